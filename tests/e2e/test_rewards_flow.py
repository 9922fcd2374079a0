"""A customer with points opens Rewards, redeems an item through the confirmation step, finds
it under My rewards and sees the balance drop, in a real browser against the real server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from app.rewards import services
from tests.e2e.conftest import log_in
from tests.factories import make_member

pytestmark = pytest.mark.e2e


def test_redeem_a_reward_and_find_it_under_my_rewards(
    page: Page, live_server: str, page_problems: list[str], screenshot: Callable
):
    admin = make_member(roles=("admin",))
    customer = make_member(display_name="Amara Okafor")
    services.grant(customer, 120, reason="Thanks for the meetup", actor=admin)
    services.create_item(admin, name="Cocreate mug", cost=50, stock=4, description="Stoneware.")
    services.create_item(admin, name="Studio visit", cost=500, stock=1)
    log_in(page, customer.email)

    nav_points = page.locator("#nav-points")
    expect(nav_points).to_contain_text("120")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rewards").click()
    expect(page.get_by_role("heading", name="Spend your points")).to_be_visible()
    expect(page.locator("#catalog-balance")).to_have_text("120 points")
    expect(page.get_by_role("button", name="380 more points needed")).to_be_disabled()
    screenshot("catalog")

    page.get_by_role("link", name="Redeem Cocreate mug").click()
    expect(page.locator("#balance-after")).to_have_text("70 points")
    screenshot("confirm")
    page.get_by_role("button", name="Redeem for 50 points").click()

    page.wait_for_url("**/me/rewards")
    expect(page.get_by_role("heading", name="My rewards")).to_be_visible()
    expect(page.get_by_text("You redeemed Cocreate mug for 50 points.")).to_be_visible()
    mine = page.locator("#redemptions")
    expect(mine.get_by_role("heading", name="Cocreate mug")).to_be_visible()
    expect(mine).to_contain_text("Requested")
    expect(page.locator("#mine-balance")).to_have_text("Your balance: 70 points")
    expect(nav_points).to_contain_text("70")
    screenshot("my-rewards")

    assert page_problems == [], "\n".join(page_problems)
