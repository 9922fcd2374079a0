"""The Socket.IO server that wsgi.py exposes accepts the site's own clients."""

from __future__ import annotations

import socketio as socketio_client

from app.extensions import socketio
from tests.servers import running_server


def test_a_client_connects_in_process(app):
    client = socketio.test_client(app)
    assert client.is_connected()
    client.disconnect()


def test_gunicorn_serves_socketio_over_websocket(app):
    with running_server(app) as url:
        client = socketio_client.Client(reconnection=False)
        client.connect(url, transports=["websocket"], wait_timeout=10)
        try:
            assert client.connected
            assert client.transport() == "websocket"
        finally:
            client.disconnect()


def test_other_origins_are_refused(app):
    with running_server(app) as url:
        client = socketio_client.Client(reconnection=False)
        try:
            client.connect(
                url,
                transports=["websocket"],
                wait_timeout=5,
                headers={"Origin": "https://evil.example"},
            )
        except socketio_client.exceptions.ConnectionError:
            refused = True
        else:
            refused = False
            client.disconnect()
        assert refused
