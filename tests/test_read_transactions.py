"""On PostgreSQL a request that only read ends its transaction by COMMIT, anything else as
before: psycopg forgets its prepared statements on ROLLBACK, so reads would be planned anew."""

from __future__ import annotations

from contextlib import contextmanager, suppress

import pytest
from flask import Flask
from sqlalchemy import event, insert, text
from sqlalchemy.exc import DataError

from app.database import end_read_transaction, utcnow
from app.extensions import db
from app.ideas.models import Idea
from tests.factories import make_idea, make_member


@contextmanager
def endings():
    """The ways transactions ended meanwhile: "commit" or "rollback", in order."""
    seen: list[str] = []
    handlers = {
        name: (lambda conn, name=name: seen.append(name)) for name in ("commit", "rollback")
    }
    for name, handler in handlers.items():
        event.listen(db.engine, name, handler)
    try:
        yield seen
    finally:
        for name, handler in handlers.items():
            event.remove(db.engine, name, handler)


@pytest.fixture
def on_postgres(db):
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite keeps no prepared statements")


def test_a_page_that_only_read_commits(client, on_postgres):
    idea_id = make_idea(title="Folding kayak").id
    db.session.remove()
    with endings() as seen:
        assert client.get(f"/api/v1/ideas/{idea_id}").status_code == 200
        assert client.get("/ideas").status_code == 200
    assert seen == ["commit", "commit"]


def test_a_request_that_left_a_change_uncommitted_still_rolls_it_back(app: Flask, on_postgres):
    idea_id = make_idea(title="Folding kayak").id
    db.session.remove()

    def leave_a_change():
        db.session.get(Idea, idea_id).title = "Never committed"

    def leave_a_write():
        db.session.execute(text("UPDATE ideas SET title = 'Never committed'"))

    with endings() as seen:
        for leave in (leave_a_change, leave_a_write):
            with app.test_request_context("/ideas"):
                leave()
                end_read_transaction(db.session())  # as the request's teardown does
                db.session.remove()
    assert seen == ["rollback", "rollback"]
    assert db.session.get(Idea, idea_id).title == "Folding kayak"


def test_the_first_page_of_the_board_keeps_one_plan(client, on_postgres):
    """Prepared (psycopg does it after five runs) and kept (read requests end by COMMIT), the
    first page's query is served by one shared plan, not planned again on every request: with
    its row limit in the SQL, the shared plan knows the page stops early."""
    author = make_member()
    now = utcnow()
    db.session.execute(
        insert(Idea),
        [
            {
                "title": f"Idea {n}",
                "body": "x" * 200,
                "body_html": "<p>" + "x" * 200 + "</p>",
                "status": "open",
                "author_id": author.id,
                "created_at": now,
                "updated_at": now,
                "status_changed_at": now,
                "hot_score": n / 10,
            }
            for n in range(5000)
        ],
    )
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    db.session.remove()
    db.engine.dispose()  # one connection from here on: the requests' is the one asked below
    for _ in range(25):  # prepared after 5 runs; PostgreSQL then tries 5 plans of its own
        assert client.get("/api/v1/ideas?sort=hot").status_code == 200
    plans = db.session.execute(
        text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE '%AS tag_names%' AND statement LIKE '%hot_score DESC%'"
        )
    ).all()
    assert len(plans) == 1, plans
    generic, custom = plans[0]
    assert generic >= 10, (generic, custom)


def test_postgres_connections_price_index_lookups_for_data_read_hot(app: Flask, on_postgres):
    """So a short conversation finds its authors by key, not by walking every person."""
    assert db.session.execute(text("SHOW random_page_cost")).scalar() == "1.1"
    assert app.config["POSTGRES_RANDOM_PAGE_COST"] == "1.1"


def test_a_read_that_failed_and_was_answered_ends_cleanly(app: Flask, on_postgres):
    """A SELECT that PostgreSQL refused aborts the transaction; COMMIT then ends it as a
    rollback (PostgreSQL answers ROLLBACK), without an error in the request's teardown."""
    with app.test_request_context("/ideas"):
        with suppress(DataError):  # as an error handler would, answering 4xx
            db.session.execute(text("SELECT 1 / 0"))
        end_read_transaction(db.session())  # as the request's teardown does
        assert db.session.execute(text("SELECT 1")).scalar() == 1
        db.session.remove()
