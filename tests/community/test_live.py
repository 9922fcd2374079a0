"""Live updates in one process, with the Flask-SocketIO test client.

Each socket call runs in a fresh context, as a real connection would: Flask's ``g`` (and the
user Flask-Login caches there) and the database session are the connection's own, not the
test's. The test's work is committed first, so the handlers see it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from app.accounts import services as accounts
from app.community import services
from app.extensions import db as _db
from app.extensions import socketio
from app.ideas import events as idea_events
from app.ideas import services as ideas
from app.ideas.models import PENDING, Vote
from tests.factories import PASSWORD, make_idea, make_member


class LiveClient:
    """A Socket.IO connection, optionally carrying a Flask test client's signed-in session."""

    def __init__(self, app: Flask, http_client=None) -> None:
        self.sio = self._run(socketio.test_client, app, flask_test_client=http_client)

    @staticmethod
    def _run(call: Callable, *args, **kwargs):
        _db.session.commit()
        return contextvars.Context().run(call, *args, **kwargs)

    def join(self, room) -> dict:
        data = room if not isinstance(room, str) else {"room": room}
        return self._run(self.sio.emit, "join", data, callback=True)

    def events(self, name: str | None = None) -> list:
        """The payloads received since the last call (of every event, or of ``name``)."""
        received = self._run(self.sio.get_received)
        return [e["args"][0] for e in received if name is None or e["name"] == name]

    def names(self) -> list[str]:
        return [e["name"] for e in self._run(self.sio.get_received)]

    def disconnect(self) -> None:
        if self.sio.is_connected():
            self._run(self.sio.disconnect)


@pytest.fixture
def live(app) -> Iterator[Callable[..., LiveClient]]:
    """``live()`` connects anonymously; ``live(http_client)`` with that client's session."""
    opened: list[LiveClient] = []

    def _connect(http_client=None) -> LiveClient:
        connection = LiveClient(app, http_client)
        opened.append(connection)
        return connection

    yield _connect
    for connection in opened:
        connection.disconnect()


@pytest.fixture
def browser(app) -> Callable:
    """``browser(user)``: a separate test client, signed in through the login form."""

    def _signed_in(user):
        http = app.test_client()
        response = http.post_form("/login", {"email": user.email, "password": PASSWORD})
        assert response.status_code == 302
        return http

    return _signed_in


@pytest.fixture
def bearer(api_token):
    def _headers(user) -> dict:
        return {"Authorization": f"Bearer {api_token(user)}"}

    return _headers


def reply_to(person, *, replier=None):
    """Someone replies to ``person``'s comment: ``person`` is notified."""
    parent = services.post_comment(person, idea=make_idea(), body="Question?")
    return services.post_comment(
        replier or make_member(display_name="Bea"), parent=parent, body="!"
    )


# --- joining rooms --------------------------------------------------------------------------


def test_anyone_can_join_the_room_of_an_open_idea(live, db):
    idea = make_idea()

    assert live().join(f"idea:{idea.id}") == {"ok": True}


def test_anyone_can_join_the_ideas_room(live, db):
    assert live().join("ideas") == {"ok": True}


def test_nobody_joins_the_room_of_a_pending_idea_of_someone_else(live, browser, db):
    author = make_member()
    idea = make_idea(author, status=PENDING)
    anonymous, stranger = live(), live(browser(make_member()))

    assert anonymous.join(f"idea:{idea.id}") == {"ok": False, "error": "forbidden"}
    assert stranger.join(f"idea:{idea.id}") == {"ok": False, "error": "forbidden"}
    services.post_comment(author, idea=idea, body="Still drafting")
    assert anonymous.events() == []
    assert stranger.events() == []


def test_the_author_joins_the_room_of_their_pending_idea(live, browser, db):
    author = make_member()
    idea = make_idea(author, status=PENDING)

    assert live(browser(author)).join(f"idea:{idea.id}") == {"ok": True}


@pytest.mark.parametrize(
    "request_",
    [
        {"room": "idea:424242"},
        {"room": "idea:\u00b2"},  # a digit to str.isdigit(), not to int()
        {"room": "idea:99999999999999999999999"},
        {"room": "idea:0"},
        {"room": "idea:-1"},
        {"room": "ideas:1"},
        {"room": ["ideas"]},
        {"room": None},
        {},
        42,
        None,
        "",
    ],
    ids=[
        "unknown",
        "superscript",
        "huge",
        "zero",
        "negative",
        "prefix",
        "list",
        "null",
        "empty",
        "number",
        "none",
        "blank",
    ],
)
def test_a_room_that_is_not_public_is_refused(live, db, request_):
    connection = live()

    ack = connection.join(request_ if not isinstance(request_, str) else {"room": request_})

    assert ack == {"ok": False, "error": "forbidden"}
    assert connection.sio.is_connected()


def test_a_client_cannot_join_someone_elses_private_room(live, browser, db):
    other = make_member()
    snoop = live(browser(make_member()))
    owner = live(browser(other))

    assert snoop.join(f"user:{other.id}") == {"ok": False, "error": "forbidden"}
    reply_to(other)
    assert snoop.events() == []
    assert len(owner.events("notification")) == 1


def test_joining_many_rooms_stops_at_a_limit(live, db):
    connection = live()
    ideas_ = [make_idea() for _ in range(22)]

    acks = [connection.join(f"idea:{idea.id}") for idea in ideas_]

    assert acks[0] == {"ok": True}
    assert acks[-1] == {"ok": False, "error": "too_many_rooms"}


# --- private events -------------------------------------------------------------------------


def test_a_reply_notifies_the_parents_author_in_their_room(live, browser, db):
    person = make_member()
    connection = live(browser(person))
    idea = make_idea(title="Lamp <that> follows the sun")
    parent = services.post_comment(person, idea=idea, body="Which bulb?")

    reply = services.post_comment(make_member(display_name="Bea"), parent=parent, body="LED")

    [payload] = connection.events("notification")
    [notification] = services.notifications_for(person)
    assert payload["id"] == notification.id
    assert payload["text"] == "Bea replied to you on “Lamp <that> follows the sun”"
    assert payload["url"] == f"/ideas/{idea.id}?comment={reply.id}#comment-{reply.id}"
    assert payload["unread"] == 1
    assert f'href="/ideas/{idea.id}?comment={reply.id}#comment-{reply.id}"' in payload["html"]
    assert "Lamp &lt;that&gt; follows the sun" in payload["html"]


def test_a_status_change_notifies_the_followers_of_the_idea(live, browser, client, db, bearer):
    follower = make_member()
    idea = make_idea(title="Solar lamp")
    services.follow(follower, "idea", idea.id)
    reply_to(follower)  # one unread notification already
    connection = live(browser(follower))

    response = client.post(
        f"/api/v1/ideas/{idea.id}/status",
        json={"status": "under_review"},
        headers=bearer(make_member(roles=("product",))),
    )

    assert response.status_code == 200
    [payload] = connection.events("notification")
    assert payload["text"] == "“Solar lamp” is now under review"
    assert payload["unread"] == 2


def test_the_unread_counts_of_everyone_notified_cost_one_query(db):
    product = make_member(roles=("product",))
    idea = make_idea()
    for _ in range(8):
        services.follow(make_member(), "idea", idea.id)
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(" ".join(statement.split()).lower())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        ideas.change_status(idea, actor=product, to="under_review")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)

    counting = [s for s in statements if s.startswith("select") and "from notifications" in s]
    assert len(counting) == 1


def test_notifying_from_a_token_request_sets_no_cookie(client, db, bearer):
    parent = services.post_comment(make_member(), idea=make_idea(), body="Question?")

    response = client.post(
        f"/api/v1/ideas/{parent.idea_id}/comments",
        json={"body": "Answer", "parent_id": parent.id},
        headers=bearer(make_member()),
    )

    assert response.status_code == 201
    assert response.headers.getlist("Set-Cookie") == []


# --- public events --------------------------------------------------------------------------


def test_viewers_of_an_idea_see_a_vote_made_through_the_api(live, client, db, bearer):
    idea = make_idea(vote_count=0)
    page, listing = live(), live()
    page.join(f"idea:{idea.id}")
    listing.join("ideas")

    response = client.put(f"/api/v1/ideas/{idea.id}/vote", headers=bearer(make_member()))

    assert response.status_code == 200
    assert page.events("vote_count") == [{"idea_id": idea.id, "vote_count": 1}]
    assert listing.events("vote_count") == [{"idea_id": idea.id, "vote_count": 1}]


def test_a_withdrawn_vote_is_broadcast_with_the_new_count(live, client, db, bearer):
    idea = make_idea()
    headers = bearer(make_member())
    client.put(f"/api/v1/ideas/{idea.id}/vote", headers=headers)
    page = live()
    page.join(f"idea:{idea.id}")

    client.delete(f"/api/v1/ideas/{idea.id}/vote", headers=headers)

    assert page.events("vote_count") == [{"idea_id": idea.id, "vote_count": 0}]


def test_viewers_of_another_idea_hear_nothing(live, client, db, bearer):
    idea, other = make_idea(), make_idea()
    page = live()
    page.join(f"idea:{other.id}")

    client.put(f"/api/v1/ideas/{idea.id}/vote", headers=bearer(make_member()))
    client.post(
        f"/api/v1/ideas/{idea.id}/comments", json={"body": "Hi"}, headers=bearer(make_member())
    )

    assert page.events() == []


def test_viewers_of_an_idea_see_a_new_comment(live, client, db, bearer):
    idea = make_idea()
    parent = services.post_comment(make_member(), idea=idea, body="First")
    page = live()
    page.join(f"idea:{idea.id}")

    response = client.post(
        f"/api/v1/ideas/{idea.id}/comments",
        json={"body": "Second", "parent_id": parent.id},
        headers=bearer(make_member()),
    )

    assert page.events("comment") == [
        {
            "idea_id": idea.id,
            "comment_id": response.get_json()["id"],
            "parent_id": parent.id,
            "count_text": "2 comments",
        }
    ]


def test_viewers_see_a_status_change(live, client, db, bearer):
    idea = make_idea()
    page, listing = live(), live()
    page.join(f"idea:{idea.id}")
    listing.join("ideas")

    client.post(
        f"/api/v1/ideas/{idea.id}/status",
        json={"status": "under_review"},
        headers=bearer(make_member(roles=("product",))),
    )

    expected = {"idea_id": idea.id, "status": "under_review", "label": "Under review"}
    assert page.events("status") == [expected]
    assert listing.events("status") == [expected]


def test_a_merge_broadcasts_both_new_counts(live, db):
    source, target = make_idea(), make_idea()
    ideas.cast_vote(source.id, voter=make_member())
    ideas.cast_vote(target.id, voter=make_member())
    listing = live()
    listing.join("ideas")

    ideas.merge_ideas(source, into=target, actor=make_member(roles=("moderator",)))

    counts = {e["idea_id"]: e["vote_count"] for e in listing.events("vote_count")}
    assert counts == {source.id: 0, target.id: 3}  # both supporters and the source's author


# --- only what happened ---------------------------------------------------------------------


def test_nothing_is_broadcast_when_the_transaction_rolls_back(live, db):
    idea = make_idea()
    page = live()
    page.join(f"idea:{idea.id}")
    voter = make_member()

    def fail(sender, **extra):
        raise RuntimeError("a later step of the vote failed")

    with idea_events.vote_cast.connected_to(fail), pytest.raises(RuntimeError):
        ideas.cast_vote(idea.id, voter=voter)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Vote)) == 0
    assert page.events() == []
    # Nor later, with the next commit: what was queued for the failed vote is gone.
    ideas.cast_vote(idea.id, voter=make_member())
    assert page.events("vote_count") == [{"idea_id": idea.id, "vote_count": 1}]


def test_no_notification_is_sent_when_the_transaction_rolls_back(live, browser, db):
    person = make_member()
    connection = live(browser(person))
    parent = services.post_comment(person, idea=make_idea(), body="Question?")

    def fail(sender, **extra):
        raise RuntimeError("a later subscriber failed")

    from app.community import events as community_events

    with community_events.comment_posted.connected_to(fail), pytest.raises(RuntimeError):
        services.post_comment(make_member(), parent=parent, body="Lost")
    db.session.rollback()
    services.post_comment(make_member(), parent=parent, body="Kept")

    assert [n["unread"] for n in connection.events("notification")] == [1]


def test_a_broken_broadcast_does_not_fail_the_vote(client, db, bearer, monkeypatch):
    idea = make_idea()

    def broken(*args, **kwargs):
        raise ConnectionError("the message queue is down")

    monkeypatch.setattr(socketio, "emit", broken)
    response = client.put(f"/api/v1/ideas/{idea.id}/vote", headers=bearer(make_member()))

    assert response.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Vote)) == 1


# --- signing out ----------------------------------------------------------------------------


def test_after_logout_private_events_stop(live, browser, db):
    person = make_member()
    http = browser(person)
    connection = live(http)
    reply_to(person)
    assert len(connection.events("notification")) == 1

    http.post_form("/logout")
    assert connection.names() == ["session_changed"]
    reply_to(person)

    assert connection.events() == []


def test_after_a_password_change_private_events_stop_on_every_device(live, browser, db):
    person = make_member()
    phone = live(browser(person))
    accounts.change_password(person, current_password=PASSWORD, new_password="a new long password")
    assert phone.names() == ["session_changed"]

    reply_to(person)

    assert phone.events() == []


def test_a_public_room_still_works_after_logout(live, browser, client, db, bearer):
    person = make_member()
    http = browser(person)
    idea = make_idea()
    connection = live(http)
    connection.join(f"idea:{idea.id}")
    http.post_form("/logout")
    connection.events()

    client.put(f"/api/v1/ideas/{idea.id}/vote", headers=bearer(make_member()))

    assert connection.events("vote_count") == [{"idea_id": idea.id, "vote_count": 1}]
