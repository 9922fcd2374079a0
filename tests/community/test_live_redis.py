"""Live updates across processes: gunicorn servers sharing the Redis message queue.

The Flask-SocketIO test client refuses a message queue, so these tests run real servers and
connect a real python-socketio client over WebSocket.
"""

from __future__ import annotations

import queue
import time
import urllib.request
from collections.abc import Iterator

import pytest
import redis
import socketio as socketio_client

from app.accounts.services import create_api_token
from config import TestConfig
from tests.factories import make_idea, make_member
from tests.servers import running_server

pytestmark = pytest.mark.redis

CHANNEL = TestConfig.SOCKETIO_CHANNEL  # the servers' channel on the queue (SOCKETIO_CHANNEL)


@pytest.fixture(scope="module")
def queued_server(app, redis_url) -> Iterator[str]:
    """The server the browser is connected to, on the shared queue."""
    with running_server(app, env={"SOCKETIO_MESSAGE_QUEUE": redis_url}) as url:
        yield url


class Viewer:
    """A browser on a list page: connected over WebSocket, in the ``ideas`` room."""

    def __init__(self, base_url: str, redis_url: str) -> None:
        self.counts: queue.Queue = queue.Queue()
        self.client = socketio_client.Client(reconnection=False)
        self.client.on("vote_count", self.counts.put)
        self.client.connect(base_url, transports=["websocket"], wait_timeout=10)
        assert self.client.call("join", {"room": "ideas"}, timeout=5) == {"ok": True}
        _wait_for_a_listener(redis_url)

    def next_count(self, timeout: float = 5) -> dict:
        return self.counts.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()


def _wait_for_a_listener(redis_url: str, timeout: float = 5) -> None:
    """A server subscribes to the queue in the background once its first client connects."""
    connection = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    while not connection.pubsub_numsub(CHANNEL)[0][1]:
        assert time.monotonic() < deadline, "the server never listened to the queue"
        time.sleep(0.02)


@pytest.fixture
def viewer(queued_server, redis_url) -> Iterator[Viewer]:
    connected = Viewer(queued_server, redis_url)
    yield connected
    connected.close()


def vote(base_url: str, idea_id: int, voter) -> int:
    _token, raw = create_api_token(voter, name="live test")
    request = urllib.request.Request(
        f"{base_url}/api/v1/ideas/{idea_id}/vote",
        method="PUT",
        headers={"Authorization": f"Bearer {raw}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_a_vote_on_another_server_reaches_the_viewer_through_the_queue(app, db, redis_url, viewer):
    idea = make_idea()

    with running_server(app, env={"SOCKETIO_MESSAGE_QUEUE": redis_url}) as other_server:
        assert vote(other_server, idea.id, make_member()) == 200

        assert viewer.next_count() == {"idea_id": idea.id, "vote_count": 1}


def test_without_the_queue_a_vote_on_another_server_does_not_arrive(app, db, queued_server, viewer):
    idea = make_idea()

    with running_server(app, env={"SOCKETIO_MESSAGE_QUEUE": ""}) as unqueued_server:
        assert vote(unqueued_server, idea.id, make_member()) == 200
        # A second vote, on the viewer's own server, arrives; the first one never came before it.
        assert vote(queued_server, idea.id, make_member()) == 200

        assert viewer.next_count() == {"idea_id": idea.id, "vote_count": 2}
