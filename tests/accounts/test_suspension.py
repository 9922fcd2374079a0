"""Moderators and admins suspend people: they read, but contribute and earn nothing."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.accounts import events, services
from app.accounts.models import User
from app.accounts.permissions import WHILE_SUSPENDED
from app.community import services as community
from app.database import utcnow
from app.errors import Forbidden, ValidationFailed
from tests.factories import PASSWORD, make_idea, make_member

NOTIFICATION_SETTINGS = {
    "email_consent": "y",
    **{f"frequency-{kind}": "daily" for kind in community.NOTIFICATION_KINDS},
}


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


def test_suspending_again_changes_the_reason_and_the_end(db):
    person = suspended(until=utcnow() + timedelta(days=1))
    later = utcnow() + timedelta(days=30)

    services.suspend(person, actor=moderator(), reason="Still posting adverts", until=later)

    assert person.is_suspended
    assert person.suspended_until == later
    assert person.suspension_reason == "Still posting adverts"


def test_lifting_a_suspension_that_ran_out_announces_nothing(db):
    person = suspended(until=utcnow() + timedelta(days=1))
    db.session.execute(
        update(User).where(User.id == person.id).values(suspended_until=utcnow() - timedelta(1))
    )
    db.session.commit()
    heard = []

    with events.user_unsuspended.connected_to(lambda sender, **kw: heard.append(sender)):
        services.unsuspend(db.session.get(User, person.id), actor=moderator())

    assert heard == []


def test_suspensions_are_audit_logged_with_who_and_why(db, caplog):
    mod, person = moderator(), make_member()
    with caplog.at_level(logging.INFO, logger="cocreate.audit"):
        services.suspend(person, actor=mod, reason="Adverts", until=None)
        services.unsuspend(person, actor=mod)
    logged = [
        (r.getMessage(), r.actor, r.user) for r in caplog.records if r.name == "cocreate.audit"
    ]
    assert logged == [
        ("user suspended", mod.id, person.id),
        ("user unsuspended", mod.id, person.id),
    ]
    assert caplog.records[0].reason == "Adverts"


def test_every_action_allowed_while_suspended_is_a_real_endpoint(app):
    assert WHILE_SUSPENDED - set(app.view_functions) == set()


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


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/ideas/new", {"title": "Cheap pills for everyone", "body": "Buy now."}),
        ("/ideas/{idea}/comments", {"body": "Visit my shop"}),
        ("/follows/idea/{idea}", {"on": "1"}),
        ("/rewards/{item}/redeem", {}),
        ("/account/public-profile", {"bio": "Buy cheap pills"}),
        ("/account/profile", {"display_name": "Cheap Pills Shop"}),
    ],
)
def test_a_suspended_person_cannot_contribute_through_pages(client, db, login, path, data):
    from app.rewards import services as rewards

    person = make_member(display_name="Sam")
    login(person)
    suspended(person)
    idea = make_idea()
    item = rewards.create_item(make_member(roles=("admin",)), name="Mug", cost=10, stock=3)

    response = client.post_form(path.format(idea=idea.id, item=item.id), data)

    assert response.status_code == 403
    assert "Spam links in comments" in response.get_data(as_text=True)
    assert db.session.get(User, person.id).display_name == "Sam"


@pytest.mark.parametrize(
    ("path", "data", "outcome"),
    [
        (
            "/account/password",
            {
                "current_password": PASSWORD,
                "new_password": "a new pass phrase",
                "confirm": "a new pass phrase",
            },
            "/account",
        ),
        ("/account/notifications", NOTIFICATION_SETTINGS, "/account/notifications"),
        ("/notifications/read", {}, "/notifications"),
    ],
)
def test_a_suspended_person_still_manages_their_account(client, db, login, path, data, outcome):
    person = make_member()
    login(person)
    suspended(person)

    response = client.post_form(path, data)

    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert response.headers["Location"].endswith(outcome)


def test_the_account_page_says_why_the_display_name_is_locked(client, db, login):
    person = make_member()
    login(person)
    before = client.get("/account").get_data(as_text=True)
    suspended(person)

    after = client.get("/account").get_data(as_text=True)

    assert 'id="profile-suspended"' not in before
    assert 'id="profile-suspended"' in after
    assert "<fieldset disabled>" in after


def test_a_suspension_that_ran_out_refuses_nothing(client, db, login):
    person = make_member()
    login(person)
    suspended(person, until=utcnow() + timedelta(days=1))
    db.session.execute(
        update(User).where(User.id == person.id).values(suspended_until=utcnow() - timedelta(1))
    )
    idea = make_idea()

    response = client.post_form(f"/ideas/{idea.id}/vote")

    assert response.status_code == 302
    assert db.session.get(type(idea), idea.id).vote_count == 1
    assert "Your account is suspended" not in client.get("/ideas").get_data(as_text=True)


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


def test_a_moderator_suspends_through_the_api(client, db, api_token):
    headers = {"Authorization": f"Bearer {api_token(moderator())}"}
    person = make_member()
    until = utcnow() + timedelta(days=1)

    response = client.post(
        f"/api/v1/users/{person.id}/suspension",
        json={"reason": "Adverts", "until": until.isoformat()},
        headers=headers,
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["id"], body["suspended"], body["reason"]) == (person.id, True, "Adverts")
    assert db.session.get(User, person.id).suspended_until == until


def test_the_api_refuses_an_end_in_the_past(client, db, api_token):
    headers = {"Authorization": f"Bearer {api_token(moderator())}"}
    person = make_member()

    response = client.post(
        f"/api/v1/users/{person.id}/suspension",
        json={"reason": "Adverts", "until": "2001-01-01T00:00:00Z"},
        headers=headers,
    )

    assert response.status_code == 422
    assert "until" in response.get_json()["error"]["fields"]
    assert not db.session.get(User, person.id).is_suspended


def test_a_moderator_lifts_through_the_api(client, db, api_token):
    headers = {"Authorization": f"Bearer {api_token(moderator())}"}
    person = suspended()

    response = client.delete(f"/api/v1/users/{person.id}/suspension", headers=headers)

    assert response.status_code == 200
    assert response.get_json()["suspended"] is False
    assert not db.session.get(User, person.id).is_suspended


@pytest.mark.parametrize(
    ("actor_roles", "target_roles"), [((), ()), (("moderator",), ("product",))]
)
def test_the_api_refuses_who_may_not_suspend(client, db, api_token, actor_roles, target_roles):
    headers = {"Authorization": f"Bearer {api_token(make_member(roles=actor_roles))}"}
    person = make_member(roles=target_roles)

    response = client.post(
        f"/api/v1/users/{person.id}/suspension", json={"reason": "x"}, headers=headers
    )

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert not db.session.get(User, person.id).is_suspended


def test_a_moderator_is_not_offered_to_lift_a_staff_suspension(client, db, login):
    staff = make_member(roles=("product",), display_name="Pat")
    services.suspend(staff, actor=make_member(roles=("admin",)), reason="Leaked a roadmap")
    customer = suspended(make_member(display_name="Cy"))
    login(moderator())

    page = client.get("/admin/users").get_data(as_text=True)

    assert f'id="lift-{customer.id}"' in page
    assert f'id="lift-{staff.id}"' not in page
    assert f'id="suspend-{staff.id}"' not in page


def test_staff_see_a_suspension_on_the_profile_and_others_do_not(client, db, login):
    person = suspended(make_member(display_name="Sam"))
    public = client.get(f"/people/{person.id}").get_data(as_text=True)
    login(moderator())

    staff_view = client.get(f"/people/{person.id}").get_data(as_text=True)

    assert 'id="person-suspended"' not in public
    assert 'id="person-suspended"' in staff_view
    assert "Spam links in comments" in staff_view


def test_a_customer_is_told_they_may_not_suspend_anyone(db):
    with pytest.raises(Forbidden) as refused:
        services.suspend(make_member(), actor=make_member(), reason="Spam")
    assert "staff" not in refused.value.message
