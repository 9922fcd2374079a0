"""The customer's rewards pages: points and history, the leaderboard, the catalog, redeeming,
my rewards, the profile panel and the navigation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.community import services as community
from app.database import utcnow
from app.extensions import db as _db
from app.rewards import badges, services
from app.rewards.models import Balance, LedgerEntry, Redemption, RewardItem
from tests.community.test_pages import element
from tests.factories import make_challenge, make_idea, make_member


@pytest.fixture
def admin():
    return make_member(roles=("admin",), display_name="Ada Admin")


def give(user, amount: int, admin, reason: str = "Welcome to the community") -> None:
    services.grant(user, amount, reason=reason, actor=admin)


def earn(user, amount: int, *, idea=None, key: str | None = None) -> None:
    """Points earned by the rules (they count on the leaderboard, unlike grants)."""
    idea = idea or make_idea(author=user)
    services.earn(
        user.id,
        "idea_published",
        key=key or f"test:{idea.id}:{user.id}",
        source_kind="idea",
        source_id=idea.id,
        amount=amount,
    )
    _db.session.commit()


def balance(user_id: int) -> int:
    _db.session.expire_all()
    return _db.session.scalar(select(Balance.balance).where(Balance.user_id == user_id)) or 0


def stock(item_id: int) -> int | None:
    _db.session.expire_all()
    return _db.session.get(RewardItem, item_id).stock


def redemptions(user_id: int) -> list[Redemption]:
    _db.session.expire_all()
    return list(_db.session.scalars(select(Redemption).where(Redemption.user_id == user_id)))


def text(html: str | None) -> str:
    """The words of some markup, tags and extra spaces left out."""
    return " ".join(re.sub(r"<[^>]+>", " ", html or "").split())


# --- my points ------------------------------------------------------------------------------


def test_points_page_asks_visitors_to_log_in(client, db):
    response = client.get("/points")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_points_page_shows_balance_level_and_lifetime(client, db, login, admin):
    member = make_member()
    earn(member, 150)
    mug = services.create_item(admin, name="Mug", cost=30)
    services.redeem(member, mug.id)  # spending lowers the balance, not the lifetime points
    login(member)

    html = client.get("/points").get_data(as_text=True)

    assert text(element(html, "points-balance")) == "120"
    assert text(element(html, "points-level")) == "Level 2"
    assert text(element(html, "points-lifetime")) == "150 points"
    assert "350 more points to reach level 3" in text(html)
    assert 'max="400" value="50"' in html


def test_points_page_says_what_the_next_level_unlocks(client, db, login):
    login(make_member())
    html = client.get("/points").get_data(as_text=True)
    assert "published at once" in text(element(html, "abilities-next"))
    assert element(html, "abilities-unlocked") is None


def test_points_page_says_what_this_level_unlocks(client, db, login):
    regular = make_member()
    earn(regular, 100)  # level 2: skip_premoderation unlocked
    login(regular)
    html = client.get("/points").get_data(as_text=True)
    assert "published at once" in text(element(html, "abilities-unlocked"))


def test_history_shows_the_reason_and_links_to_the_idea(client, db, login):
    member = make_member()
    idea = make_idea(author=member, title="A lamp that follows the sun")
    earn(member, 10, idea=idea)
    login(member)

    html = client.get("/points").get_data(as_text=True)
    history = element(html, "points-history")

    assert "Idea published" in text(history)
    assert f'<a href="/ideas/{idea.id}">A lamp that follows the sun</a>' in history
    assert '<span class="cc-amount-plus">+10' in history


def test_history_links_points_for_a_comment_to_the_comment(client, db, login):
    member = make_member()
    idea = make_idea(title="A quiet kettle")
    comment = community.post_comment(member, idea=idea, body="Could it whistle softly?")
    login(member)

    history = element(client.get("/points").get_data(as_text=True), "points-history")

    assert "Joined a conversation" in text(history)
    assert f'href="/ideas/{idea.id}#comment-{comment.id}"' in history


def test_history_shows_a_grant_from_the_team_with_its_reason(client, db, login, admin):
    member = make_member()
    give(member, 25, admin, reason="Thanks for the meetup")
    login(member)

    history = text(element(client.get("/points").get_data(as_text=True), "points-history"))

    assert "From the Cocreate team" in history
    assert "Thanks for the meetup" in history
    assert "+25" in history


def test_history_shows_spending_in_red_with_a_link_to_my_rewards(client, db, login, admin):
    member = make_member()
    give(member, 50, admin)
    item = services.create_item(admin, name="Sticker pack", cost=20)
    services.redeem(member, item.id)
    login(member)

    history = element(client.get("/points").get_data(as_text=True), "points-history")

    assert '<span class="cc-amount-minus">&minus;20' in history
    assert '<a href="/me/rewards">Sticker pack</a>' in history


def test_history_is_paged_by_fifty_newest_first(client, db, login):
    member = make_member()
    for n in range(51):
        earn(member, n + 1, key=f"page-test-{n}")
    login(member)

    first = client.get("/points").get_data(as_text=True)
    second = client.get("/points?page=2").get_data(as_text=True)

    assert element(first, "points-history").count('<tr id="entry-') == 50
    assert "+51" in text(element(first, "points-history"))
    assert 'href="/points?page=2"' in element(first, "page-next")
    assert element(second, "points-history").count('<tr id="entry-') == 1
    assert "+1 points earned" in text(element(second, "points-history"))
    assert element(second, "page-next") is None


@pytest.mark.parametrize("page", ["abc", "0", "-3", ""])
def test_an_unreadable_history_page_is_the_first_page(client, db, login, page):
    member = make_member()
    earn(member, 10)
    login(member)

    response = client.get(f"/points?page={page}")

    assert response.status_code == 200
    assert "Page 1" not in text(response.get_data(as_text=True))  # no pager for one page
    assert element(response.get_data(as_text=True), "points-history").count("<tr id=") == 1


def test_a_history_page_far_beyond_any_is_a_404(client, db, login):
    login(make_member())
    assert client.get("/points?page=99999999999999999999999").status_code == 404


def test_points_page_shows_badges_earned_with_their_date_and_those_still_to_earn(client, db, login):
    member = make_member()
    badges.award(member.id, "first_idea")
    _db.session.commit()
    login(member)

    html = client.get("/points").get_data(as_text=True)
    earned = text(element(html, "badges-earned"))
    unearned = text(element(html, "badges-unearned"))

    assert "First idea" in earned
    assert f"Earned {utcnow():%b} {utcnow().day}, {utcnow().year}" in earned
    assert "Conversationalist" in unearned
    assert "Joined ten conversations on others' ideas." in unearned.replace("&#39;", "'")
    assert "First idea" not in unearned


def test_points_history_costs_the_same_queries_for_1_and_30_entries(
    client, db, login, count_queries
):
    few, many = make_member(), make_member()
    earn(few, 5)
    for _ in range(30):
        earn(many, 5)
    login(few)
    client.get("/points")  # warm up
    with count_queries() as small:
        assert client.get("/points").status_code == 200
    client.post_form("/logout")
    login(many)
    with count_queries() as large:
        assert client.get("/points").status_code == 200
    assert large() == small()


# --- the leaderboard ------------------------------------------------------------------------


def test_leaderboard_ranks_by_points_earned_with_links_to_profiles(client, db):
    ada, bob, cy = (make_member(display_name=name) for name in ("Ada", "Bob", "Cy"))
    earn(bob, 30)
    earn(ada, 50)
    earn(cy, 10)

    board = element(client.get("/leaderboard").get_data(as_text=True), "leaderboard")

    assert re.findall(r"#(\d+) \w+ (\w+) (\d+)", text(board)) == [
        ("1", "Ada", "50"),
        ("2", "Bob", "30"),
        ("3", "Cy", "10"),
    ]
    assert f'href="/people/{ada.id}"' in element(board, f"rank-{ada.id}")


def test_leaderboard_does_not_count_grants_from_the_team(client, db, admin):
    member = make_member(display_name="Granted Only")
    give(member, 1000, admin)
    html = client.get("/leaderboard").get_data(as_text=True)
    assert "Granted Only" not in html
    assert element(html, "leaderboard-empty") is not None


def test_leaderboard_highlights_my_row_in_the_top(client, db, login):
    me, other = make_member(), make_member()
    earn(me, 20)
    earn(other, 40)
    login(me)

    html = client.get("/leaderboard").get_data(as_text=True)

    assert f'class="cc-leader-me" aria-current="true" id="rank-{me.id}"' in html
    assert element(html, "my-rank") is None


def test_leaderboard_shows_my_rank_below_the_top_when_i_am_outside_it(client, db, login):
    for n in range(21):
        earn(make_member(), 100 + n)
    me = make_member(display_name="Late Starter")
    earn(me, 5)
    login(me)

    html = client.get("/leaderboard").get_data(as_text=True)

    assert element(html, "leaderboard").count('<tr id="rank-') == 20
    assert text(element(html, "my-rank")) == "You: #22"
    assert "#22 LS Late Starter You 5" in text(element(html, f"rank-{me.id}"))


def test_leaderboard_periods_leave_out_older_points(client, db):
    recent, old = make_member(display_name="Recent"), make_member(display_name="Oldtimer")
    earn(recent, 10)
    earn(old, 90)
    _db.session.execute(
        update(LedgerEntry)
        .where(LedgerEntry.user_id == old.id)
        .values(created_at=utcnow() - timedelta(days=20))
    )
    _db.session.commit()

    week = text(
        element(client.get("/leaderboard?period=week").get_data(as_text=True), "leaderboard")
    )
    month = client.get("/leaderboard?period=month").get_data(as_text=True)

    assert "Recent" in week
    assert "Oldtimer" not in week
    assert "Oldtimer" in text(element(month, "leaderboard"))
    assert re.search(r'id="period-month"\s+aria-current="page"', month)


def test_leaderboard_challenge_filter_counts_only_that_challenges_points(client, db):
    challenge = make_challenge(title="Small flats")
    inside, outside = make_member(display_name="Inside"), make_member(display_name="Outside")
    earn(inside, 10, idea=make_idea(author=inside, challenge_id=challenge.id))
    earn(outside, 99)

    html = client.get(f"/leaderboard?challenge={challenge.id}").get_data(as_text=True)

    assert text(element(html, "leaderboard")).endswith("Inside 10")
    assert "Outside" not in text(element(html, "leaderboard"))
    assert f'<option value="{challenge.id}" selected>Small flats</option>' in html


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("period=year", 422),
        ("challenge=999999", 404),
        ("challenge=abc", 404),
        ("challenge=99999999999999999999", 404),
    ],
)
def test_leaderboard_refuses_a_bad_filter_with_a_clear_page(client, db, query, status):
    response = client.get(f"/leaderboard?{query}")
    assert response.status_code == status
    assert response.content_type.startswith("text/html")


def test_leaderboard_says_so_when_nobody_has_earned_points(client, db):
    html = client.get("/leaderboard").get_data(as_text=True)
    assert "Nobody has earned points here yet." in text(element(html, "leaderboard-empty"))


def test_leaderboard_costs_the_same_queries_for_1_and_30_earners(client, db, login, count_queries):
    make_challenge()
    login(make_member())
    earn(make_member(), 10)
    client.get("/leaderboard")  # warm up
    with count_queries() as small:
        assert client.get("/leaderboard").status_code == 200
    for _ in range(29):
        earn(make_member(), 10)
    with count_queries() as large:
        assert client.get("/leaderboard").status_code == 200
    assert large() == small()


# --- the catalog ----------------------------------------------------------------------------


def test_catalog_shows_cost_stock_and_limits(client, db, admin):
    limited = services.create_item(admin, name="Mug", cost=40, stock=3, per_person_limit=1)
    unlimited = services.create_item(admin, name="Wallpaper", cost=5, description="For phones")
    gone = services.create_item(admin, name="Hoodie", cost=90, stock=0)

    html = client.get("/rewards").get_data(as_text=True)

    mug = text(element(html, f"reward-{limited.id}"))
    assert "40 points" in mug
    assert "3 left" in mug
    assert "Up to 1 per person" in mug
    assert "Unlimited" in text(element(html, f"reward-{unlimited.id}"))
    assert "For phones" in text(element(html, f"reward-{unlimited.id}"))
    assert "Out of stock" in text(element(html, f"reward-{gone.id}"))


def test_catalog_asks_visitors_to_log_in_to_redeem(client, db, admin):
    item = services.create_item(admin, name="Mug", cost=40)
    card = element(client.get("/rewards").get_data(as_text=True), f"reward-{item.id}")
    assert "Log in to redeem" in text(card)
    assert "/login?next=" in card


def test_catalog_shows_my_balance_and_the_points_i_still_need(client, db, login, admin):
    member = make_member()
    give(member, 30, admin)
    cheap = services.create_item(admin, name="Sticker", cost=10)
    dear = services.create_item(admin, name="Mug", cost=100)
    gone = services.create_item(admin, name="Hoodie", cost=10, stock=0)
    login(member)

    html = client.get("/rewards").get_data(as_text=True)

    assert text(element(html, "catalog-balance")) == "30 points"
    assert f'href="/rewards/{cheap.id}"' in element(html, f"reward-{cheap.id}")
    assert "70 more points needed" in text(element(html, f"reward-{dear.id}"))
    assert "disabled" in element(html, f"reward-{dear.id}")
    assert f'href="/rewards/{dear.id}"' not in element(html, f"reward-{dear.id}")
    assert "disabled>Out of stock" in element(html, f"reward-{gone.id}")


def test_catalog_leaves_out_rewards_not_available_now(client, db, admin):
    services.create_item(
        admin, name="Winter scarf", cost=10, active_from=utcnow() + timedelta(days=3)
    )
    html = client.get("/rewards").get_data(as_text=True)
    assert "Winter scarf" not in html
    assert "No rewards right now." in html


def test_confirmation_page_shows_the_cost_and_the_balance_after(client, db, login, admin):
    member = make_member()
    give(member, 50, admin)
    item = services.create_item(admin, name="Mug", cost=20, stock=2)
    login(member)

    html = client.get(f"/rewards/{item.id}").get_data(as_text=True)

    assert text(element(html, "balance-after")) == "30 points"
    assert f'action="/rewards/{item.id}/redeem"' in html
    assert "Redeem for 20 points" in text(element(html, "redeem-confirm"))


def test_confirmation_page_of_an_unknown_reward_is_a_404(client, db):
    assert client.get("/rewards/999999").status_code == 404


# --- redeeming ------------------------------------------------------------------------------


def test_redeeming_spends_points_takes_stock_and_lands_on_my_rewards(client, db, login, admin):
    member = make_member()
    give(member, 50, admin)
    item = services.create_item(admin, name="Mug", cost=20, stock=2)
    login(member)
    assert (balance(member.id), stock(item.id), redemptions(member.id)) == (50, 2, [])

    response = client.post_form(f"/rewards/{item.id}/redeem")

    assert response.status_code == 302
    assert response.headers["Location"] == "/me/rewards"
    assert (balance(member.id), stock(item.id)) == (30, 1)
    [redemption] = redemptions(member.id)
    assert (redemption.item_id, redemption.cost, redemption.status) == (item.id, 20, "requested")
    page = client.get("/me/rewards").get_data(as_text=True)
    assert "You redeemed Mug for 20 points." in text(page)
    assert "Requested" in text(element(page, f"redemption-{redemption.id}"))
    assert text(element(page, "mine-balance")) == "Your balance: 30 points"


def test_redeeming_with_too_few_points_says_so_and_changes_nothing(client, db, login, admin):
    member = make_member()
    give(member, 10, admin)
    item = services.create_item(admin, name="Mug", cost=20, stock=2)
    login(member)

    response = client.post_form(f"/rewards/{item.id}/redeem")

    assert response.status_code == 302
    assert response.headers["Location"] == "/rewards"
    assert (balance(member.id), stock(item.id), redemptions(member.id)) == (10, 2, [])
    assert "Not enough points for that." in client.get("/rewards").get_data(as_text=True)


def test_redeeming_an_item_out_of_stock_says_so(client, db, login, admin):
    member = make_member()
    give(member, 50, admin)
    item = services.create_item(admin, name="Mug", cost=20, stock=0)
    login(member)

    client.post_form(f"/rewards/{item.id}/redeem")

    assert (balance(member.id), redemptions(member.id)) == (50, [])
    assert "Sorry, this reward is out of stock." in client.get("/rewards").get_data(as_text=True)


def test_redeeming_an_unknown_reward_returns_to_the_catalog_with_a_message(client, db, login):
    login(make_member())
    response = client.post_form("/rewards/999999/redeem")
    assert response.headers["Location"] == "/rewards"
    assert "No such reward." in client.get("/rewards").get_data(as_text=True)


def test_redeeming_without_a_csrf_token_is_refused(client, db, login, admin):
    member = make_member()
    give(member, 50, admin)
    item = services.create_item(admin, name="Mug", cost=20)
    login(member)

    assert client.post(f"/rewards/{item.id}/redeem").status_code == 400
    assert balance(member.id) == 50


# --- my rewards -----------------------------------------------------------------------------


def test_my_rewards_shows_status_cost_and_the_teams_note(client, db, login, admin):
    member = make_member()
    give(member, 100, admin)
    mug = services.create_item(admin, name="Mug", cost=20)
    cap = services.create_item(admin, name="Cap", cost=30)
    sent = services.redeem(member, mug.id)
    services.fulfil_redemption(sent, actor=admin, note="Tracking 123")
    waiting = services.redeem(member, cap.id)
    login(member)

    html = client.get("/me/rewards").get_data(as_text=True)

    fulfilled = text(element(html, f"redemption-{sent.id}"))
    assert "Fulfilled" in fulfilled
    assert "20 points" in fulfilled
    assert "From the team: Tracking 123" in fulfilled
    assert "Cancel" not in fulfilled
    assert "Requested" in text(element(html, f"redemption-{waiting.id}"))
    assert f'action="/me/rewards/{waiting.id}/cancel"' in html


def test_cancelling_my_request_returns_the_points_and_the_stock(client, db, login, admin):
    member = make_member()
    give(member, 50, admin)
    item = services.create_item(admin, name="Mug", cost=20, stock=2)
    redemption = services.redeem(member, item.id)
    login(member)
    assert (balance(member.id), stock(item.id)) == (30, 1)

    response = client.post_form(f"/me/rewards/{redemption.id}/cancel")

    assert response.headers["Location"] == "/me/rewards"
    assert (balance(member.id), stock(item.id)) == (50, 2)
    page = client.get("/me/rewards").get_data(as_text=True)
    assert "Cancelled: 20 points are back in your balance." in text(page)
    assert "Cancelled" in text(element(page, f"redemption-{redemption.id}"))


def test_cancelling_twice_says_it_is_no_longer_requested(client, db, login, admin):
    member = make_member()
    give(member, 50, admin)
    redemption = services.redeem(member, services.create_item(admin, name="Mug", cost=20).id)
    login(member)
    client.post_form(f"/me/rewards/{redemption.id}/cancel")

    response = client.post_form(f"/me/rewards/{redemption.id}/cancel")

    assert response.headers["Location"] == "/me/rewards"
    assert balance(member.id) == 50
    assert "Only a requested redemption can be cancelled." in client.get("/me/rewards").get_data(
        as_text=True
    )


@pytest.mark.parametrize("roles", [(), ("admin",)], ids=["customer", "staff"])
def test_nobody_cancels_someone_elses_request_from_their_own_page(client, db, login, admin, roles):
    owner = make_member()
    give(owner, 50, admin)
    redemption = services.redeem(owner, services.create_item(admin, name="Mug", cost=20).id)
    login(make_member(roles=roles))

    response = client.post_form(f"/me/rewards/{redemption.id}/cancel")

    assert response.status_code == 403
    assert balance(owner.id) == 30
    assert redemptions(owner.id)[0].status == "requested"


def test_cancelling_an_unknown_request_is_a_404(client, db, login):
    login(make_member())
    assert client.post_form("/me/rewards/999999/cancel").status_code == 404


# --- the profile panel ----------------------------------------------------------------------


def test_profile_shows_level_and_badges_with_their_date(client, db):
    person = make_member()
    earn(person, 120)
    badges.award(person.id, "first_idea")
    _db.session.commit()

    html = client.get(f"/people/{person.id}").get_data(as_text=True)
    panel = text(element(html, "profile-rewards"))

    assert "Level 2" in panel
    assert "First idea" in panel
    assert f"Earned {utcnow():%b} {utcnow().day}, {utcnow().year}" in panel
    assert "120 points earned" in panel


def test_profile_hides_points_when_the_person_hides_them(client, db):
    person = make_member()
    earn(person, 120)
    community.update_profile(person, bio="", show_points=False)

    panel = text(
        element(client.get(f"/people/{person.id}").get_data(as_text=True), "profile-rewards")
    )

    assert "Level 2" in panel
    assert "points" not in panel


def test_profile_panel_costs_the_same_queries_for_1_and_6_badges(client, db, count_queries):
    few, many = make_member(), make_member()
    badges.award(few.id, "first_idea")
    for code in badges.BADGES:
        badges.award(many.id, code)
    _db.session.commit()
    client.get(f"/people/{few.id}")  # warm up
    with count_queries() as small:
        client.get(f"/people/{few.id}")
    with count_queries() as large:
        html = client.get(f"/people/{many.id}").get_data(as_text=True)
    assert element(html, "profile-badges").count("<li") == len(badges.BADGES)
    assert large() == small()


# --- the navigation -------------------------------------------------------------------------


def test_navigation_links_to_the_leaderboard_and_rewards(client, db):
    html = client.get("/leaderboard").get_data(as_text=True)
    assert re.search(r'href="/leaderboard"\s+aria-current="page"', html)
    assert 'href="/rewards"' in html
    assert element(html, "nav-points") is None  # visitors have no balance


def test_navigation_shows_my_balance_linking_to_my_points(client, db, login, admin):
    member = make_member()
    give(member, 1234, admin)
    login(member)

    nav = element(client.get("/ideas").get_data(as_text=True), "nav-points")

    assert 'href="/points"' in nav
    assert "Your points: 1,234" in text(nav)


def test_navigation_balance_comes_with_the_person_in_one_query(app, db, count_queries, admin):
    from flask import render_template
    from flask_login import login_user

    from app.accounts.services import load_user_from_session

    member = make_member()
    give(member, 7, admin)
    login_id = member.get_id()
    db.session.expunge_all()  # a request starts with an empty session
    with app.test_request_context("/"), count_queries() as n:
        login_user(load_user_from_session(login_id))  # what Flask-Login does per request
        first = render_template("rewards/_nav_points.html")
        again = render_template("rewards/_nav_points.html")
    assert "Your points: 7" in text(first)
    assert text(again) == text(first)
    assert n() == 1  # the person, their roles and their balance together
