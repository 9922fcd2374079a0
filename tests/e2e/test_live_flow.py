"""Two people on the same idea, in two browsers: one comments and supports, the other sees both
appear live and gets a notification, without reloading."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import log_in
from tests.factories import make_idea, make_member

pytestmark = pytest.mark.e2e


QUESTION = "Could it have a charcoal filter?"


def comment_bodies(page: Page):
    return page.locator("#comments .cc-post-body")


def test_a_comment_and_a_vote_appear_live_for_another_person(
    page: Page,
    browser: Browser,
    live_server: str,
    page_problems: list[str],
    screenshot: Callable,
):
    lena = make_member(display_name="Lena Fischer")
    kenji = make_member(display_name="Kenji Watanabe")
    idea = make_idea(lena, title="Compost caddy for small flats")

    # Lena watches her idea.
    log_in(page, lena.email)
    page.goto(f"/ideas/{idea.id}")
    page.evaluate("window.ccNoReload = 'still here'")
    expect(page.locator("html[data-live-ready]")).to_have_count(1)
    count = page.locator(f'[data-vote-count="{idea.id}"]').first
    expect(count).to_have_text("0")

    # Kenji, in another browser, supports it and mentions Lena in a comment.
    other = browser.new_context(base_url=live_server)
    try:
        kenji_page = other.new_page()
        log_in(kenji_page, kenji.email)
        kenji_page.goto(f"/ideas/{idea.id}")
        kenji_page.locator(f"#vote-{idea.id}").get_by_role("button").click()
        expect(kenji_page.locator(f'[data-vote-count="{idea.id}"]').first).to_have_text("1")
        box = kenji_page.get_by_label("Add to the conversation")
        box.fill(f"Would love this, @Lena Fischer! {QUESTION}")
        kenji_page.get_by_role("button", name="Post comment").click()
        expect(comment_bodies(kenji_page).get_by_text(QUESTION)).to_be_visible()
    finally:
        other.close()

    # Lena sees both, and a notification, without reloading.
    expect(count).to_have_text("1")
    expect(
        page.locator("#comments").get_by_text("Could it have a charcoal filter?")
    ).to_be_visible()
    expect(page.locator("[data-unread-count]").first).to_have_text("1")
    assert page.evaluate("window.ccNoReload") == "still here"
    screenshot("seen-live")

    assert page_problems == [], "\n".join(page_problems)
