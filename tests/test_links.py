"""Links built by placeholder are the links url_for builds."""

from __future__ import annotations

import pytest
from flask import url_for

from app.links import link

ODD_VALUES = ["plain", "two words", "ü日本", "a/b", "q?x=1", "#frag", "%20", "a+b&c=d;e", ""]


@pytest.mark.parametrize("value", ODD_VALUES)
def test_query_and_path_links_match_url_for(app, value):
    with app.test_request_context("/"):
        assert link("ideas.index", "tag")(value) == url_for("ideas.index", tag=value)
        assert link("ideas.media", "path")(value or "x") == url_for(
            "ideas.media", path=value or "x"
        )
        assert link("accounts.login", "next")(value) == url_for("accounts.login", next=value)


def test_a_missing_query_value_is_left_out_as_url_for_does(app):
    with app.test_request_context("/"):
        assert link("accounts.login", "next")(None) == url_for("accounts.login") == "/login"
        assert link("ideas.detail", "idea_id", number=True)(42) == url_for(
            "ideas.detail", idea_id=42
        )
