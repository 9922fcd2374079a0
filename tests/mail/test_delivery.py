"""Mail leaves through a real SMTP server after commit, and waits in the outbox when it is down."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from app.accounts import services as accounts
from app.mail.models import OutboxMessage
from tests.servers import free_port


@contextmanager
def smtp_server(port: int) -> Iterator[subprocess.Popen]:
    """Python 3.11's debugging SMTP server: accepts every message and prints it."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-W",
            "ignore",
            "-m",
            "smtpd",
            "-n",
            "-c",
            "DebuggingServer",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    try:
        yield process
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.fixture
def smtp_config(app, monkeypatch) -> int:
    port = free_port()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    monkeypatch.setitem(app.config, "MAIL_USE_TLS", False)
    return port


def statuses(db) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)))


def test_mail_is_sent_after_commit_and_retried_after_an_outage(app, db, smtp_config):
    with smtp_server(smtp_config):
        accounts.register_user(email="ada@example.com", display_name="Ada", password="analytical1")
        assert statuses(db) == ["sent"]

    accounts.register_user(email="grace@example.com", display_name="Grace", password="compiler1952")
    assert statuses(db) == ["sent", "failed"]

    with smtp_server(smtp_config):
        result = app.test_cli_runner().invoke(args=["mail", "send-pending"])
    assert "Sent 1 of 1 waiting messages." in result.output
    assert statuses(db) == ["sent", "sent"]


def test_without_a_mail_server_mail_waits_in_the_outbox(app, db, caplog):
    accounts.register_user(email="ada@example.com", display_name="Ada", password="analytical1")
    assert statuses(db) == ["pending"]
    assert "Mail kept in the outbox" in caplog.text
    result = app.test_cli_runner().invoke(args=["mail", "send-pending"])
    assert result.exit_code != 0
    assert "MAIL_SERVER is not set" in result.output
