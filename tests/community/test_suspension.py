"""A suspended person is told why, and stops receiving private live events while it lasts."""

from __future__ import annotations

import json
import queue
import urllib.request
from collections.abc import Callable, Iterator

import pytest
import socketio as socketio_client
from sqlalchemy import select

from app.accounts import services as accounts
from app.accounts.models import User
from app.community import services
from app.community.models import Notification
from app.extensions import db as _db
from tests.community.test_live import browser, live, reply_to  # noqa: F401 (fixtures)
from tests.community.test_live_redis import (  # noqa: F401 (a fixture)
    _wait_for_a_listener,
    queued_server,
)
from tests.factories import PASSWORD, make_idea, make_member
from tests.servers import running_server


def moderator() -> User:
    return make_member(roles=("moderator",))


def suspend(person: User) -> None:
    accounts.suspend(person, actor=moderator(), reason="Spam links in comments")


def account_notes(person: User) -> list[str]:
    return list(
        _db.session.scalars(
            select(Notification.text)
            .where(Notification.recipient_id == person.id, Notification.kind == "account")
            .order_by(Notification.id)
        )
    )


# --- notifications --------------------------------------------------------------------------


def test_the_person_is_told_why(db):
    person = make_member()

    suspend(person)

    [text] = account_notes(person)
    assert text == "Your account is suspended until a moderator lifts it: Spam links in comments"


def test_the_person_is_told_when_it_is_lifted(db):
    person = make_member()
    suspend(person)

    accounts.unsuspend(person, actor=moderator())

    assert account_notes(person)[-1] == "Your suspension was lifted: welcome back."


# --- live updates in one process ------------------------------------------------------------


def test_private_events_stop_when_suspended(live, browser, db):  # noqa: F811
    person = make_member()
    connection = live(browser(person))
    reply_to(person)
    assert len(connection.events("notification")) == 1

    suspend(person)
    assert "session_changed" in connection.names()
    reply_to(person)

    assert connection.events("notification") == []


def test_a_suspended_person_does_not_join_their_private_room(live, browser, db):  # noqa: F811
    person = make_member()
    http = browser(person)
    suspend(person)

    connection = live(http)
    reply_to(person)

    assert connection.events("notification") == []
    assert services.notifications_for(person)  # kept for them to read


def test_private_events_return_with_the_next_connection_after_lifting(live, browser, db):  # noqa: F811
    person = make_member()
    http = browser(person)
    suspend(person)
    accounts.unsuspend(person, actor=moderator())

    connection = live(http)
    reply_to(person)

    assert len(connection.events("notification")) == 1


# --- across processes, through the Redis message queue --------------------------------------


class SignedInSocket:
    """A signed-in browser's socket on a real server, also in the ``ideas`` room."""

    def __init__(self, base_url: str, session_cookie: str) -> None:
        self.received: queue.Queue = queue.Queue()
        self.client = socketio_client.Client(reconnection=False)
        for name in ("notification", "session_changed", "vote_count"):
            self.client.on(name, lambda data, name=name: self.received.put(name))
        self.client.connect(
            base_url,
            headers={"Cookie": f"session={session_cookie}"},
            transports=["websocket"],
            wait_timeout=10,
        )
        assert self.client.call("join", {"room": "ideas"}, timeout=5) == {"ok": True}

    def next_event(self, timeout: float = 5) -> str:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()


@pytest.fixture
def signed_in_socket(app, queued_server, redis_url) -> Iterator[Callable]:  # noqa: F811
    """``signed_in_socket(person)``: their socket on the queued server (see test_live_redis)."""
    opened: list[SignedInSocket] = []

    def _connect(person: User) -> SignedInSocket:
        http = app.test_client()
        response = http.post_form("/login", {"email": person.email, "password": PASSWORD})
        assert response.status_code == 302
        connected = SignedInSocket(queued_server, http.get_cookie("session").value)
        _wait_for_a_listener(redis_url)
        opened.append(connected)
        return connected

    yield _connect
    for connected in opened:
        connected.close()


def _call(base_url: str, method: str, path: str, user: User, body: dict | None = None) -> int:
    _token, raw = accounts.create_api_token(user, name="suspension test")
    request = urllib.request.Request(
        f"{base_url}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {raw}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def _reply(base_url: str, person: User) -> int:
    idea = make_idea()
    parent = services.post_comment(person, idea=idea, body="Question?")
    return _call(
        base_url,
        "POST",
        f"/api/v1/ideas/{idea.id}/comments",
        make_member(),
        {"body": "An answer", "parent_id": parent.id},
    )


@pytest.mark.redis
def test_a_suspension_on_another_server_stops_private_events(
    app,
    db,
    redis_url,
    signed_in_socket,  # noqa: F811
):
    person = make_member()
    socket = signed_in_socket(person)
    idea = make_idea()

    with running_server(app, env={"SOCKETIO_MESSAGE_QUEUE": redis_url}) as other_server:
        assert _reply(other_server, person) == 201
        assert socket.next_event() == "notification"

        suspension = f"/api/v1/users/{person.id}/suspension"
        assert _call(other_server, "POST", suspension, moderator(), {"reason": "Spam"}) == 200
        assert socket.next_event() == "session_changed"
        # Published after the reply's notification: had that reached the socket, it would be
        # first.
        assert _reply(other_server, person) == 201
        assert _call(other_server, "PUT", f"/api/v1/ideas/{idea.id}/vote", make_member()) == 200

        assert socket.next_event() == "vote_count"
