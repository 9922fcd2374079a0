"""A customer shares an idea (seeing the similar-ideas hint) and supports another from the list,
watching the count change without a reload, in a real browser against the real server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import log_in
from tests.factories import make_idea, make_member

pytestmark = pytest.mark.e2e


def test_share_an_idea_with_the_similar_hint_then_support_another_in_place(
    page: Page, live_server: str, page_problems: list[str], screenshot: Callable
):
    existing = make_idea(title="Solar lantern with a USB-C port")
    customer = make_member(display_name="Kenji Watanabe")
    log_in(page, customer.email)

    page.goto("/ideas/new")
    page.get_by_label("Title", exact=True).press_sequentially("Solar lamp for balconies")
    similar = page.locator("#similar-ideas")
    expect(similar.get_by_text("Solar lantern with a USB-C port")).to_be_visible()
    screenshot("similar-hint")
    page.get_by_label("Describe it", exact=True).fill("Clips on the railing, charges by day.")
    page.get_by_role("button", name="Share idea").click()
    expect(page.get_by_role("heading", name="Solar lamp for balconies")).to_be_visible()
    screenshot("idea-shared")

    page.goto("/ideas?sort=new")
    page.evaluate("window.ccNoReload = 'still here'")
    count = page.locator(f'[data-vote-count="{existing.id}"]').first
    expect(count).to_have_text("0")
    page.locator(f"#vote-{existing.id}").get_by_role("button").click()
    expect(count).to_have_text("1")
    assert page.evaluate("window.ccNoReload") == "still here"
    screenshot("supported")

    assert page_problems == [], "\n".join(page_problems)
