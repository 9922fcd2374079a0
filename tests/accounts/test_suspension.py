"""Moderators and admins suspend people: they read, but contribute and earn nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.accounts import services
from app.accounts.models import User
from app.community import services as community
from app.community.models import Notification
from app.database import utcnow
from app.errors import Forbidden, ValidationFailed
from app.ideas import services as ideas
from app.rewards import services as rewards
from tests.community.test_live import browser, live, reply_to  # noqa: F401 (fixtures)
from tests.factories import make_idea, make_member


def moderator() -> User:
    return make_member(roles=("moderator",))


def suspended(person: User | None = None, **kwargs) -> User:
    person = person or make_member()
    services.suspend(person, actor=moderator(), reason="Spam links in comments", **kwargs)
    return person


# --- who, why and until when ----------------------------------------------------------------


def test_a_moderator_suspends_a_customer_until_lifted(db):
    person = suspended()
    assert person.is_suspended
    assert person.suspended_until is None
    assert person.suspension_reason == "Spam links in comments"
    services.unsuspend(person, actor=moderator())
    assert not person.is_suspended


def test_a_suspension_ends_by_itself(db):
    person = suspended(until=utcnow() + timedelta(days=3))
    assert person.is_suspended
    db.session.execute(
        update(User)
        .where(User.id == person.id)
        .values(suspended_until=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()
    assert not db.session.get(User, person.id).is_suspended


@pytest.mark.parametrize(
    ("actor_roles", "target_roles", "allowed"),
    [
        ((), (), False),  # customers suspend nobody
        (("moderator",), (), True),
        (("moderator",), ("product",), False),  # staff only by admins
        (("moderator",), ("moderator",), False),
        (("admin",), ("moderator",), True),
    ],
)
def test_who_may_suspend_whom(db, actor_roles, target_roles, allowed):
    actor, target = make_member(roles=actor_roles), make_member(roles=target_roles)
    if allowed:
        services.suspend(target, actor=actor, reason="Abuse")
        assert target.is_suspended
    else:
        with pytest.raises(Forbidden):
            services.suspend(target, actor=actor, reason="Abuse")


def test_nobody_suspends_themselves(db):
    admin = make_member(roles=("admin",))
    with pytest.raises(Forbidden, match="yourself"):
        services.suspend(admin, actor=admin, reason="Testing")


@pytest.mark.parametrize(
    ("reason", "until", "field"),
    [
        ("  ", None, "reason"),
        ("x" * 501, None, "reason"),
        ("Spam", utcnow() - timedelta(hours=1), "until"),
    ],
)
def test_a_suspension_needs_a_reason_and_a_future_end(db, reason, until, field):
    person = make_member()
    with pytest.raises(ValidationFailed) as error:
        services.suspend(person, actor=moderator(), reason=reason, until=until)
    assert field in error.value.fields
    assert not db.session.get(User, person.id).is_suspended


def test_the_person_is_told_why(db):
    person = suspended()
    [note] = db.session.scalars(
        select(Notification).where(
            Notification.recipient_id == person.id, Notification.kind == "account"
        )
    )
    assert "Spam links in comments" in note.text


# --- what a suspended person can and cannot do ----------------------------------------------


def test_a_suspended_person_cannot_vote_comment_or_post_through_the_api(client, db, api_token):
    person = make_member()
    headers = {"Authorization": f"Bearer {api_token(person)}"}
    suspended(person)
    idea = make_idea()
    attempts = [
        client.put(f"/api/v1/ideas/{idea.id}/vote", headers=headers),
        client.post(f"/api/v1/ideas/{idea.id}/comments", json={"body": "Hi"}, headers=headers),
        client.post(
            "/api/v1/ideas", json={"title": "Buy cheap pills", "body": "Spam"}, headers=headers
        ),
    ]
    for response in attempts:
        assert response.status_code == 403
        error = response.get_json()["error"]
        assert error["code"] == "suspended"
        assert "Spam links in comments" in error["message"]
    assert db.session.get(type(idea), idea.id).vote_count == 0
    # Reading still works, and so does managing what reaches them.
    assert client.get(f"/api/v1/ideas/{idea.id}", headers=headers).status_code == 200
    read = client.post("/api/v1/notifications/read", json={}, headers=headers)
    assert read.status_code < 400


def test_a_suspended_person_sees_why_on_every_page_and_is_refused_a_vote(client, db, login):
    person = make_member()
    login(person)
    suspended(person, until=utcnow() + timedelta(days=2))
    idea = make_idea()
    page = client.get("/ideas").get_data(as_text=True)
    assert "Your account is suspended until" in page
    response = client.post_form(f"/ideas/{idea.id}/vote")
    assert response.status_code == 403
    assert "Spam links in comments" in response.get_data(as_text=True)
    assert client.post_form("/logout").status_code == 302


def test_a_refused_htmx_request_carries_the_reason_for_the_page_to_say(client, db, login):
    person = make_member()
    login(person)
    suspended(person)
    idea = make_idea()
    response = client.post_form(f"/ideas/{idea.id}/vote", headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert "Spam%20links%20in%20comments" in response.headers["X-Error-Message"]


# --- points and standings -------------------------------------------------------------------


def test_no_points_while_suspended_and_again_after(db):
    author = make_member()
    idea = make_idea(author)
    suspended(author)
    ideas.cast_vote(idea, voter=make_member())
    assert rewards.balance_of(author) == 0
    services.unsuspend(author, actor=moderator())
    ideas.cast_vote(idea, voter=make_member())
    assert rewards.balance_of(author) == 1
    assert rewards.verify() == []


def test_the_leaderboard_leaves_out_suspended_people(db):
    first, second = make_member(display_name="Ada"), make_member(display_name="Bo")
    for person, votes in ((first, 3), (second, 2)):
        idea = make_idea(person)
        for _ in range(votes):
            ideas.cast_vote(idea, voter=make_member())
    suspended(first)
    top, mine = rewards.leaderboard(period="week", viewer=first)
    assert [s.display_name for s in top] == ["Bo"]
    assert top[0].rank == 1
    assert mine is None


# --- live updates ---------------------------------------------------------------------------


def test_private_events_stop_when_suspended(live, browser, db):  # noqa: F811
    person = make_member()
    connection = live(browser(person))
    reply_to(person)
    assert len(connection.events("notification")) == 1

    suspended(person)
    assert "session_changed" in connection.names()
    reply_to(person)
    assert connection.events("notification") == []


def test_a_suspended_person_does_not_join_their_private_room(live, browser, db):  # noqa: F811
    person = make_member()
    http = browser(person)
    suspended(person)
    connection = live(http)
    reply_to(person)
    assert connection.events("notification") == []
    assert community.notifications_for(person)  # kept for them to read


# --- pages and API for staff ----------------------------------------------------------------


def test_a_moderator_suspends_and_lifts_from_the_people_page(client, db, login):
    mod, person = moderator(), make_member(display_name="Spammy Sam")
    login(mod)
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Spammy Sam" in page
    assert "role-" not in page  # role toggles are for admins
    response = client.post_form(
        f"/admin/users/{person.id}/suspension",
        {"reason": "Posts adverts", "until": (utcnow() + timedelta(days=7)).date().isoformat()},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    row = response.get_data(as_text=True)
    assert "Suspended" in row
    assert "Posts adverts" in row
    assert db.session.get(User, person.id).is_suspended
    response = client.post_form(
        f"/admin/users/{person.id}/suspension/lift", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert not db.session.get(User, person.id).is_suspended


def test_the_suspend_form_says_what_is_missing(client, db, login):
    login(moderator())
    person = make_member()
    response = client.post_form(
        f"/admin/users/{person.id}/suspension", {"reason": ""}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    assert "Say why." in response.get_data(as_text=True)
    assert not db.session.get(User, person.id).is_suspended


def test_customers_do_not_see_the_people_page(client, db, login):
    login(make_member())
    assert client.get("/admin/users").status_code == 403


def test_suspension_through_the_api(client, db, api_token):
    headers = {"Authorization": f"Bearer {api_token(moderator())}"}
    person = make_member()
    until = (utcnow() + timedelta(days=1)).isoformat()
    response = client.post(
        f"/api/v1/users/{person.id}/suspension",
        json={"reason": "Adverts", "until": until},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["suspended"] is True
    assert body["reason"] == "Adverts"
    bad = client.post(
        f"/api/v1/users/{person.id}/suspension",
        json={"reason": "Adverts", "until": "2001-01-01T00:00:00Z"},
        headers=headers,
    )
    assert bad.status_code == 422
    assert "until" in bad.get_json()["error"]["fields"]
    lifted = client.delete(f"/api/v1/users/{person.id}/suspension", headers=headers)
    assert lifted.status_code == 200
    assert lifted.get_json()["suspended"] is False
    customer = {"Authorization": f"Bearer {api_token(make_member())}"}
    refused = client.post(
        f"/api/v1/users/{person.id}/suspension", json={"reason": "x"}, headers=customer
    )
    assert refused.status_code == 403


def test_a_customer_is_told_they_may_not_suspend_anyone(db):
    with pytest.raises(Forbidden) as refused:
        services.suspend(make_member(), actor=make_member(), reason="Spam")
    assert "staff" not in refused.value.message
