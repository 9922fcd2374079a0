"""Rules admins change, abilities levels unlock, per-challenge standings, royalties, the
fulfilment queue's notifications and the audit trail of grants."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

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
    ideas.cast_vote(idea, voter=make_member())
    services.set_rule(admin(), "supporter", amount=3, daily_cap=None)
    ideas.cast_vote(idea, voter=make_member())
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
        assert not abilities.allows(regular, "weighted_flag")  # level 3
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
        ideas.cast_vote(idea_out, voter=make_member())
    ideas.cast_vote(idea_in, voter=make_member())
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
    ideas.cast_vote(make_idea(author, challenge_id=challenge.id), voter=make_member())
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
