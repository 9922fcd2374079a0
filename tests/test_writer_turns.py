"""On SQLite, writers take turns through a lock file beside the database (app/database.py)."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest
from sqlalchemy import text

from app.database import write_transaction
from app.extensions import db as _db
from tests.factories import make_idea, make_member


@pytest.fixture
def lock_path(db):
    if _db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL has row locks; the writers' turns are SQLite's")
    return _db.engine.url.database + "-writer.lock"


def turn_is_free(path: str) -> bool:
    """Whether another process could take the writers' turn now."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def test_a_write_holds_the_turn_until_it_commits(db, lock_path):
    with write_transaction():
        db.session.execute(text("UPDATE users SET locale = locale"))
        assert not turn_is_free(lock_path)
        db.session.commit()
    assert turn_is_free(lock_path)


def test_a_failed_write_gives_the_turn_back(db, lock_path):
    with write_transaction():
        db.session.execute(text("UPDATE users SET locale = locale"))
        db.session.rollback()
    assert turn_is_free(lock_path)


def test_a_request_that_writes_leaves_the_turn_free(client, db, login, lock_path):
    idea = make_idea()
    login(make_member())
    assert client.post_form(f"/ideas/{idea.id}/vote").status_code == 302
    assert turn_is_free(lock_path)


def test_a_second_writer_waits_for_the_first_then_writes(app, db, lock_path):
    """The second writer starts while the first holds the turn, and goes on when it ends."""
    order: list[str] = []
    holding = threading.Event()

    def first() -> None:
        with app.app_context(), write_transaction():
            _db.session.execute(text("UPDATE users SET locale = locale"))
            holding.set()
            time.sleep(0.3)
            order.append("first commits")
            _db.session.commit()

    def second() -> None:
        holding.wait(5)
        with app.app_context(), write_transaction():
            _db.session.execute(text("UPDATE users SET locale = locale"))
            order.append("second writes")
            _db.session.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert order == ["first commits", "second writes"]
    assert turn_is_free(lock_path)
