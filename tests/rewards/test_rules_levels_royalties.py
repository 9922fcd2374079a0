"""Rules admins change, abilities levels unlock, per-challenge standings, royalties, the
fulfilment queue's notifications and the audit trail of grants."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app import abilities
from app.community import services as community
from app.community.models import Notification
from app.database import utcnow
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.ideas import services as ideas
from app.ideas.models import OPEN, PENDING
from app.production.events import production_request_created
from app.rewards import services
from tests.factories import make_challenge, make_idea, make_member


def admin():
    return make_member(roles=("admin",))


def reasons(user) -> list[tuple[str, int]]:
    return [(e.reason, e.amount) for e in reversed(services.ledger_of(user))]


# --- rules ----------------------------------------------------------------------------------


def test_a_changed_rule_pays_from_then_on_and_keeps_history(db):
    author = make_member()
    idea = make_idea(author)
    ideas.cast_vote(idea.id, voter=make_member())
    services.set_rule(admin(), "supporter", amount=3, daily_cap=None)
    ideas.cast_vote(idea.id, voter=make_member())
    assert reasons(author) == [("supporter", 1), ("supporter", 3)]
    services.reset_rule(admin(), "supporter")
    assert services.rules()["supporter"].amount == 1
    assert not services.rules()["supporter"].changed


@pytest.mark.parametrize(
    ("code", "amount", "cap", "field"),
    [
        ("supporter", -1, None, "amount"),
        ("supporter", 100_001, None, "amount"),
        ("royalty", 101, None, "amount"),
        ("royalty", 5, 10, "daily_cap"),
        ("comment", 2, 0, "daily_cap"),
        ("challenge_winner", 10, None, "amount"),
    ],
)
def test_an_impossible_rule_is_refused_and_nothing_changes(db, code, amount, cap, field):
    before = services.rules()[code]
    with pytest.raises(ValidationFailed) as refused:
        services.set_rule(admin(), code, amount=amount, daily_cap=cap)
    assert field in refused.value.fields
    assert services.rules()[code] == before


def test_only_admins_change_rules(db):
    with pytest.raises(Forbidden):
        services.set_rule(make_member(roles=("moderator",)), "comment", amount=5, daily_cap=None)
    with pytest.raises(NotFound):
        services.set_rule(admin(), "no_such_rule", amount=5, daily_cap=None)


# --- levels and abilities -------------------------------------------------------------------


def test_level_two_posts_without_premoderation_and_level_one_waits(app, db):
    app.config["IDEAS_PREMODERATION"] = True
    try:
        newcomer, regular = make_member(), make_member()
        services.grant(regular, 100, reason="Welcome back", actor=admin())
        assert not abilities.allows(newcomer, "skip_premoderation")
        assert abilities.allows(regular, "skip_premoderation")
        first = ideas.submit_idea(newcomer, title="Waits for a moderator", body="x")
        second = ideas.submit_idea(regular, title="Goes straight up", body="x")
        staff = ideas.submit_idea(make_member(roles=("moderator",)), title="Staff idea", body="x")
        assert (first.status, second.status, staff.status) == (PENDING, OPEN, OPEN)
    finally:
        app.config["IDEAS_PREMODERATION"] = False


def test_levels_follow_the_configured_thresholds(app, db):
    person = make_member()
    services.grant(person, 150, reason="Meetup", actor=admin())
    assert services.standing(person)["level"] == 2
    app.config["REWARD_LEVELS"] = (0, 200, 1000)
    try:
        assert services.standing(person) == {
            "balance": 150,
            "lifetime": 150,
            "level": 1,
            "to_next_level": 50,
        }
    finally:
        app.config["REWARD_LEVELS"] = services.DEFAULT_LEVELS


def test_unknown_abilities_are_a_programming_error(db):
    with pytest.raises(KeyError):
        abilities.allows(make_member(), "fly")
    assert not abilities.allows(None, "skip_premoderation")


# --- leaderboards per challenge -------------------------------------------------------------


def test_a_challenge_leaderboard_counts_only_points_earned_in_it(db):
    challenge = make_challenge()
    inside, outside = make_member(), make_member()
    idea_in = make_idea(inside, challenge_id=challenge.id)
    idea_out = make_idea(outside)
    for _ in range(3):
        ideas.cast_vote(idea_out.id, voter=make_member())
    ideas.cast_vote(idea_in.id, voter=make_member())
    commenter = make_member()

    community.post_comment(commenter, idea=idea_in, body="Nice one")

    overall, _ = services.leaderboard(period="all")
    assert [s.user_id for s in overall][:1] == [outside.id]
    in_challenge, mine = services.leaderboard(
        period="all", challenge_id=challenge.id, viewer=outside
    )
    assert [(s.user_id, s.points) for s in in_challenge] == [(commenter.id, 2), (inside.id, 1)]
    assert mine is None
    with pytest.raises(NotFound):
        services.leaderboard(period="all", challenge_id=challenge.id + 1000)


def test_the_leaderboard_api_filters_by_challenge(client, db):
    challenge = make_challenge()
    author = make_member()
    ideas.cast_vote(make_idea(author, challenge_id=challenge.id).id, voter=make_member())
    body = client.get(f"/api/v1/leaderboard?period=all&challenge={challenge.id}").get_json()
    assert body["challenge"] == challenge.id
    assert [item["user"]["id"] for item in body["items"]] == [author.id]
    missing = client.get("/api/v1/leaderboard?challenge=999999")
    assert missing.status_code == 404
    assert "error" in missing.get_json()
    assert client.get("/api/v1/leaderboard?challenge=abc").status_code == 422


# --- royalties ------------------------------------------------------------------------------


def run(run_id: int, idea_id: int, revenue_cents: int) -> SimpleNamespace:
    return SimpleNamespace(id=run_id, idea_id=idea_id, confirmed_revenue_cents=revenue_cents)


def test_a_production_run_pays_its_author_a_royalty_once(db):
    author = make_member()
    idea = make_idea(author, status="adopted")
    # 120 pre-orders at 25.00: 3,000.00 confirmed; 5% is 150.00, one point per unit.
    for _ in range(2):  # delivered twice, paid once
        production_request_created.send(run(7, idea.id, 300_000))
    db.session.commit()
    assert reasons(author) == [("royalty", 150)]
    history, _more = services.history(author)
    assert history[0][1].idea_id == idea.id

    services.set_rule(admin(), "royalty", amount=10, daily_cap=None)
    production_request_created.send(run(8, idea.id, 100_000))
    db.session.commit()
    assert reasons(author) == [("royalty", 150), ("royalty", 100)]
    assert services.verify() == []


def test_a_run_without_revenue_or_without_its_idea_pays_nothing(db):
    author = make_member()
    idea = make_idea(author, status="adopted")
    production_request_created.send(run(1, idea.id, 0))
    production_request_created.send(run(2, 999_999, 500_000))
    db.session.commit()
    assert reasons(author) == []


# --- the catalog from the API ---------------------------------------------------------------


def test_staff_change_a_reward_and_only_the_fields_sent(client, db, api_token):
    staff = make_member(roles=("product",))
    item = services.create_item(staff, name="Mug", cost=10, stock=3, per_person_limit=1)
    token = api_token(staff)
    headers = {"Authorization": f"Bearer {token}"}
    response = client.patch(
        f"/api/v1/rewards/{item.id}", json={"stock": None, "cost": 25}, headers=headers
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["name"], body["cost"], body["stock"], body["per_person_limit"]) == (
        "Mug",
        25,
        None,
        1,
    )

    bad = client.patch(f"/api/v1/rewards/{item.id}", json={"cost": 0}, headers=headers)
    assert bad.status_code == 422
    assert "cost" in str(bad.get_json()["error"])
    window = client.patch(
        f"/api/v1/rewards/{item.id}",
        json={"active_from": "2030-01-02T00:00:00Z", "active_until": "2030-01-01T00:00:00Z"},
        headers=headers,
    )
    assert window.status_code == 422
    assert (
        client.patch("/api/v1/rewards/999999", json={"cost": 5}, headers=headers).status_code == 404
    )
    db.session.expire_all()
    assert services.get_item(item.id).cost == 25

    customer = {"Authorization": f"Bearer {api_token(make_member())}"}
    refused = client.patch(f"/api/v1/rewards/{item.id}", json={"cost": 1}, headers=customer)
    assert refused.status_code == 403


def test_a_reward_scheduled_for_later_is_not_in_the_catalog_yet(client, db):
    staff = make_member(roles=("product",))
    services.create_item(staff, name="Later", cost=5, active_from=utcnow() + timedelta(days=1))
    services.create_item(staff, name="Now", cost=5)
    assert [r["name"] for r in client.get("/api/v1/rewards").get_json()] == ["Now"]


# --- fulfilment and grants tell the customer ------------------------------------------------


def notifications_of(db, user) -> list[str]:
    db.session.expire_all()
    return [
        n.text
        for n in db.session.scalars(
            select(Notification)
            .where(Notification.recipient_id == user.id)
            .order_by(Notification.id)
        )
    ]


def test_fulfilment_and_cancellation_tell_the_customer(db):
    staff, customer = make_member(roles=("product",)), make_member()
    services.grant(customer, 100, reason="Welcome", actor=admin())
    item = services.create_item(staff, name="Tote bag", cost=30, stock=2)
    first = services.redeem(customer, item.id)
    second = services.redeem(customer, item.id)
    services.fulfil_redemption(first, actor=staff, note="Tracking 123")
    services.cancel_redemption(second, actor=staff, note="Wrong size left")
    texts = notifications_of(db, customer)
    assert texts[0].startswith("You received 100 points")
    assert "on its way" in texts[1]
    assert "Tracking 123" in texts[1]
    assert "cancelled" in texts[2]
    assert "30 points" in texts[2]
    assert services.balance_of(customer) == 70
    assert services.get_item(item.id).stock == 1
    with pytest.raises(Conflict):
        services.fulfil_redemption(second, actor=staff)
    queue, more = services.redemption_queue(status="fulfilled")
    assert [(r.id, r.staff_note, r.decided_by_id) for r in queue] == [
        (first.id, "Tracking 123", staff.id)
    ]
    assert not more


def test_a_customer_cancelling_their_own_request_gets_no_notification(db):
    customer = make_member()
    services.grant(customer, 50, reason="Welcome", actor=admin())
    item = services.create_item(make_member(roles=("product",)), name="Pin", cost=10)
    services.cancel_redemption(services.redeem(customer, item.id), actor=customer)
    assert len(notifications_of(db, customer)) == 1  # the grant only


def test_grants_are_audit_logged_with_who_and_why(db, caplog):
    boss, person = admin(), make_member()
    with caplog.at_level(logging.INFO, logger="cocreate.audit"):
        services.grant(person, 40, reason="Spoke at the meetup", actor=boss)
        services.grant(person, -15, reason="Duplicate grant", actor=boss)
    rows, more = services.manual_grants()
    assert [(e.amount, e.note, p.id, a.id) for e, p, a in rows] == [
        (-15, "Duplicate grant", person.id, boss.id),
        (40, "Spoke at the meetup", person.id, boss.id),
    ]
    assert not more
    logged = [r for r in caplog.records if r.getMessage() == "points granted"]
    assert [(r.actor, r.user, r.amount) for r in logged] == [
        (boss.id, person.id, 40),
        (boss.id, person.id, -15),
    ]


# --- what review found ----------------------------------------------------------------------


def test_redeeming_and_cancelling_never_raises_lifetime_points(db):
    person = make_member()
    ideas.cast_vote(make_idea(person).id, voter=make_member())  # +1 earned
    services.grant(person, 59, reason="Welcome", actor=admin())
    item = services.create_item(make_member(roles=("product",)), name="Cap", cost=60)
    for _ in range(5):
        services.cancel_redemption(services.redeem(person, item.id), actor=person)
    assert services.standing(person)["lifetime"] == 60
    assert services.balance_of(person) == 60
    assert services.verify() == []


def test_an_undone_earning_is_taken_off_lifetime_points_too(db):
    author, voter = make_member(), make_member()
    idea = make_idea(author)
    ideas.cast_vote(idea.id, voter=voter)
    ideas.withdraw_vote(idea.id, voter=voter)
    assert services.standing(author)["lifetime"] == 0


def test_posting_and_removing_comments_cannot_beat_the_daily_cap(db):
    person = make_member()
    idea = make_idea()
    for _ in range(15):  # 2 points each, cap 20
        comment = community.post_comment(person, idea=idea, body="Hello there")
        community.delete_comment(comment, actor=person)
    paid_today = sum(e.amount for e in services.ledger_of(person) if e.amount > 0)
    assert paid_today == 20
    assert services.standing(person)["lifetime"] == 0  # everything was taken back


def test_one_persons_parallel_redemptions_respect_the_per_person_limit(app, db):
    from concurrent.futures import ThreadPoolExecutor

    from app.accounts.models import User
    from app.database import write_transaction
    from app.extensions import db as _db
    from app.rewards.models import Redemption

    person = make_member()
    services.grant(person, 1000, reason="Launch", actor=admin())
    item = services.create_item(
        make_member(roles=("product",)), name="Signed print", cost=10, per_person_limit=1
    )
    item_id, person_id = item.id, person.id

    def attempt(_n: int) -> str:
        with app.app_context(), write_transaction():
            try:
                services.redeem(_db.session.get(User, person_id), item_id)
                return "ok"
            except Conflict as error:
                _db.session.rollback()
                return error.code
            finally:
                _db.session.remove()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count("ok") == 1
    assert set(outcomes) == {"ok", "limit_reached"}
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Redemption)) == 1
    assert services.balance_of(person) == 990


def test_a_repriced_reward_is_refused_not_charged(db):
    person = make_member()
    services.grant(person, 500, reason="Launch", actor=admin())
    staff = make_member(roles=("product",))
    item = services.create_item(staff, name="Mug", cost=100)
    services.update_item(staff, item, cost=400)
    with pytest.raises(Conflict) as refused:
        services.redeem(person, item.id, expected_cost=100)
    assert refused.value.code == "cost_changed"
    db.session.rollback()
    assert services.balance_of(person) == 500


def test_a_save_does_not_put_back_stock_sold_while_staff_edited(db):
    staff, person = make_member(roles=("product",)), make_member()
    services.grant(person, 100, reason="Launch", actor=admin())
    item = services.create_item(staff, name="Mug", cost=10, stock=5)
    for _ in range(3):
        services.redeem(person, item.id)
    # Staff opened the form at stock 5 and only renamed it.
    services.update_item(staff, item, name="Blue mug", stock=5, stock_seen=5)
    assert services.get_item(item.id).stock == 2
    # They meant to restock to 10 from the 5 they saw: refused, nothing changes.
    with pytest.raises(Conflict) as refused:
        services.update_item(staff, item, stock=10, stock_seen=5)
    assert refused.value.code == "stock_changed"
    db.session.rollback()
    assert services.get_item(item.id).stock == 2
    services.update_item(staff, item, stock=10, stock_seen=2)
    assert services.get_item(item.id).stock == 10


def test_a_long_tracking_note_is_cut_with_a_mark_not_lost_silently(db):
    staff, person = make_member(roles=("product",)), make_member()
    services.grant(person, 100, reason="Launch", actor=admin())
    item = services.create_item(staff, name="M" * 120, cost=10)
    note = "Parcel " + "x" * 300 + " TRACK-42"
    services.fulfil_redemption(services.redeem(person, item.id), actor=staff, note=note)
    text = notifications_of(db, person)[-1]
    assert len(text) <= 300
    assert text.endswith("…")
    assert services.redemptions_of(person)[0].staff_note.endswith("TRACK-42")


def test_the_same_grant_request_sent_twice_grants_once(client, db, api_token):
    boss, person = admin(), make_member()
    headers = {"Authorization": f"Bearer {api_token(boss)}", "Idempotency-Key": "grant-0001-abc"}
    body = {"amount": 25, "reason": "Meetup host"}
    first = client.post(f"/api/v1/users/{person.id}/points", json=body, headers=headers)
    again = client.post(f"/api/v1/users/{person.id}/points", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    assert services.balance_of(person) == 25
    short = client.post(
        f"/api/v1/users/{person.id}/points",
        json=body,
        headers={**headers, "Idempotency-Key": "x"},
    )
    assert short.status_code == 422


@pytest.mark.parametrize(
    "moment", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00", "1900-01-01T00:00:00Z"]
)
def test_impossible_dates_are_a_clear_422(client, db, api_token, moment):
    staff = make_member(roles=("product",))
    headers = {"Authorization": f"Bearer {api_token(staff)}"}
    created = client.post(
        "/api/v1/rewards", json={"name": "Mug", "cost": 5, "active_from": moment}, headers=headers
    )
    assert created.status_code == 422
    assert "active_from" in str(created.get_json()["error"])
    item = services.create_item(staff, name="Pin", cost=5)
    patched = client.patch(
        f"/api/v1/rewards/{item.id}", json={"active_until": moment}, headers=headers
    )
    assert patched.status_code == 422


def test_a_request_key_used_for_another_grant_is_refused(db):
    boss, alice, bob = admin(), make_member(), make_member()
    services.grant(alice, 10, reason="Meetup", actor=boss, request_key="samekey123")
    with pytest.raises(Conflict) as refused:
        services.grant(bob, 99, reason="Meetup", actor=boss, request_key="samekey123")
    assert refused.value.code == "key_reused"
    assert services.balance_of(bob) == 0
    assert services.balance_of(alice) == 10


def test_undoing_points_already_spent_still_lowers_the_level(db):
    author, voter = make_member(), make_member()
    idea = make_idea(author)
    ideas.cast_vote(idea.id, voter=voter)  # +1
    item = services.create_item(make_member(roles=("product",)), name="Sticker", cost=1)
    services.redeem(author, item.id)  # spent
    ideas.withdraw_vote(idea.id, voter=voter)
    assert services.standing(author) == {
        "balance": 0,
        "lifetime": 0,
        "level": 1,
        "to_next_level": 100,
    }
    assert services.verify() == []


@pytest.mark.parametrize("seen", ["²", "0²", "١٢", "12a"])
def test_a_garbled_stock_seen_never_breaks_the_item_form(client, db, login, seen):
    staff = make_member(roles=("product",))
    item = services.create_item(staff, name="Mug", cost=10, stock=5)
    login(staff)
    response = client.post_form(
        f"/admin/rewards/items/{item.id}",
        {"name": "Mug", "cost": "10", "stock": "7", "stock_seen": seen},
    )
    assert response.status_code == 302
    assert services.get_item(item.id).stock == 7


# --- early backers --------------------------------------------------------------------------


def preorder(n: int, user_id: int, backer_number: int) -> SimpleNamespace:
    return SimpleNamespace(id=n, user_id=user_id, offering_id=3, backer_number=backer_number)


def test_the_first_backers_of_an_offering_earn_the_early_backer_badge(app, db, monkeypatch):
    from app.production.events import preorder_placed
    from app.rewards import badges

    monkeypatch.setitem(app.config, "REWARD_EARLY_BACKERS", 2)
    first, second, third = make_member(), make_member(), make_member()
    for n, person in enumerate((first, second, third), start=1):
        preorder_placed.send(preorder(n, person.id, n))
    preorder_placed.send(preorder(1, first.id, 1))  # delivered twice: one badge
    db.session.commit()

    def codes(person) -> list[str]:
        return [badge.code for badge, _when in badges.badges_of(person.id)]

    assert codes(first) == ["early_backer"]
    assert codes(second) == ["early_backer"]
    assert codes(third) == []


def test_an_early_backer_sees_the_badge_on_the_profile_and_my_points(client, db, login):
    from app.production.events import preorder_placed
    from tests.community.test_pages import element

    backer = make_member()
    page = client.get(f"/people/{backer.id}").get_data(as_text=True)
    assert "Early backer" not in page
    preorder_placed.send(preorder(1, backer.id, 1))
    db.session.commit()

    assert "Early backer" in client.get(f"/people/{backer.id}").get_data(as_text=True)
    login(backer)
    earned = element(client.get("/points").get_data(as_text=True), "badges-earned")
    assert "Early backer" in earned
    assert "Among the first to pre-order a product made from an idea." in earned
