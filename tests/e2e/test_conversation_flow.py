"""A reader opens a long conversation and brings in the comments it left out, in place."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from app.community import services
from tests.factories import make_idea, make_member

pytestmark = pytest.mark.e2e


def test_show_more_comments_brings_in_the_missing_branches_in_place(
    page: Page, live_server: str, page_problems: list[str], screenshot: Callable
):
    idea = make_idea(title="Stackable lunch boxes")
    people = [make_member(display_name=f"Reader {n}") for n in range(3)]
    # Past two windows of branches (services.THREAD_WINDOW each), so the page leaves a gap.
    count = 2 * services.THREAD_WINDOW + 5
    for n in range(count):
        services.post_comment(people[n % 3], idea=idea, body=f"Branch number {n + 1}.")
    missing = page.get_by_text(f"Branch number {services.THREAD_WINDOW + 3}.", exact=True)

    page.goto(f"/ideas/{idea.id}")
    page.evaluate("window.ccNoReload = 'still here'")
    expect(page.get_by_text("Branch number 1.", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Branch number {count}.", exact=True)).to_be_visible()
    expect(missing).to_have_count(0)

    more = page.get_by_role("link", name="Show more comments")
    expect(more).to_have_count(1)
    more.click()
    expect(missing).to_be_visible()
    expect(more).to_have_count(0)
    for n in range(1, count + 1):  # every branch, once
        expect(page.get_by_text(f"Branch number {n}.", exact=True)).to_have_count(1)
    assert page.evaluate("window.ccNoReload") == "still here"
    screenshot("whole-conversation")

    assert page_problems == [], "\n".join(page_problems)
