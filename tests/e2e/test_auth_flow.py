"""A person signs up, logs out and logs back in, in a real browser against the real server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

DISPLAY_NAME = "Ada Lovelace"
EMAIL = "ada@example.com"
PASSWORD = "analytical engine 1843"


def main_navigation(page: Page):
    return page.get_by_role("navigation", name="Main")


def test_person_registers_logs_out_and_logs_in_again(
    page: Page, live_server: str, page_problems: list[str], screenshot: Callable
):
    page.goto("/register")
    page.get_by_label("Display name", exact=True).fill(DISPLAY_NAME)
    page.get_by_label("Email", exact=True).fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    screenshot("register")
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(f"{live_server}/")
    expect(main_navigation(page).get_by_text(DISPLAY_NAME, exact=True)).to_be_visible()
    screenshot("signed-up")

    main_navigation(page).get_by_role("button", name="Log out").click()

    expect(page).to_have_url(f"{live_server}/")
    expect(main_navigation(page).get_by_role("link", name="Log in")).to_be_visible()
    expect(main_navigation(page).get_by_text(DISPLAY_NAME, exact=True)).to_have_count(0)
    screenshot("logged-out")

    main_navigation(page).get_by_role("link", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/login")
    page.get_by_label("Email", exact=True).fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    screenshot("login")
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(f"{live_server}/")
    expect(main_navigation(page).get_by_text(DISPLAY_NAME, exact=True)).to_be_visible()
    screenshot("logged-in")

    assert page_problems == [], "\n".join(page_problems)
