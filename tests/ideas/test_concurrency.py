"""Support stays exact under concurrent, duplicated and racing requests, against a real server
with several worker processes and threads (SQLite and PostgreSQL, as the suite runs)."""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from sqlalchemy import func, select

from app.accounts import services as accounts
from app.ideas.models import Idea, Vote
from tests.factories import make_idea, make_member
from tests.servers import running_server

VOTERS = 50


def call(base_url: str, method: str, path: str, token: str) -> tuple[int, dict]:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def serving(app):
    """Two worker processes of eight threads each: real concurrency on either database."""
    return running_server(app, workers=2, threads=8, env={"RATELIMIT_ENABLED": "false"})


def stored_and_counted(db, idea_id: int) -> tuple[int, int]:
    db.session.rollback()
    stored = db.session.scalar(select(Idea.vote_count).where(Idea.id == idea_id))
    counted = db.session.scalar(select(func.count()).where(Vote.idea_id == idea_id))
    return stored, counted


def test_fifty_concurrent_voters_with_duplicates_count_exactly(app, db):
    idea = make_idea()
    tokens = [accounts.create_api_token(make_member(), name="bench")[1] for _ in range(VOTERS)]
    path = f"/api/v1/ideas/{idea.id}/vote"

    # Every voter sends the same vote three times at once.
    with serving(app) as url, ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda t: call(url, "PUT", path, t), tokens * 3))

    assert {status for status, _ in results} == {200}
    assert all(body["voted"] for _, body in results)
    assert stored_and_counted(db, idea.id) == (VOTERS, VOTERS)


def test_racing_vote_and_withdraw_leave_count_equal_to_rows(app, db):
    idea = make_idea()
    tokens = [accounts.create_api_token(make_member(), name="bench")[1] for _ in range(VOTERS)]
    path = f"/api/v1/ideas/{idea.id}/vote"
    # Half the voters support steadily; the other half flip between support and withdrawal.
    steady, flipping = tokens[: VOTERS // 2], tokens[VOTERS // 2 :]
    requests = [("PUT", t) for t in steady] * 2 + [
        (method, t) for t in flipping for method in ("PUT", "DELETE", "PUT", "DELETE", "PUT")
    ]

    with serving(app) as url, ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda r: call(url, r[0], path, r[1]), requests))

    assert {status for status, _ in results} == {200}
    stored, counted = stored_and_counted(db, idea.id)
    assert stored == counted
    assert len(steady) <= counted <= VOTERS
