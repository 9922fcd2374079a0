"""No list sort or filter reads every idea: each is served by an index, on either database."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, text

from app.extensions import db
from app.ideas import services
from tests.factories import make_category, make_challenge


def plan_of(statement) -> str:
    """The query plan of a statement, or of SQL as the driver ran it (``(sql, parameters)``)."""
    conn = db.session.connection()
    if isinstance(statement, tuple):
        sql, parameters = statement
    else:
        compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        sql, parameters = str(compiled), ()
    if conn.dialect.name == "postgresql":
        # With a handful of rows a sequential scan is cheaper; forbid it to see whether an
        # index can serve the query at all.
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        rows = [row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}", parameters)]
    else:
        rows = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)]
    return "\n".join(rows)


def listing_statement(**filters) -> tuple:
    """The page query the service runs, as the driver ran it: its SQL and parameters."""
    captured = []

    def spy(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", spy)
    try:
        services.list_ideas(viewer=None, **filters)
    finally:
        event.remove(db.engine, "before_cursor_execute", spy)
    return captured[0]


def full_scans_of(table_name: str, plan: str) -> list[str]:
    """Plan lines that read the whole table (or an alias of it: ideas_1) without an index."""
    if db.session.get_bind().dialect.name == "postgresql":
        return [line for line in plan.splitlines() if f"Seq Scan on {table_name}" in line]
    pattern = re.compile(rf"\b(SCAN|SEARCH) {table_name}(_\d+)?\b")
    return [line for line in plan.splitlines() if pattern.search(line) and "USING" not in line]


@pytest.mark.parametrize(
    "filters",
    [
        {"sort": "hot"},
        {"sort": "top"},
        {"sort": "new"},
        {"sort": "trending"},
        {"sort": "hot", "status": "shipped"},
        {"sort": "top", "status": "shipped"},
        {"sort": "new", "category": "kitchen"},
        {"sort": "top", "challenge": 1},
        {"sort": "hot", "tag": "solar"},
    ],
    ids=lambda f: "-".join(f"{k}={v}" for k, v in f.items()),
)
def test_no_sort_or_filter_reads_every_idea(db, board, monkeypatch, filters):
    plan = plan_of(listing_statement(**filters))
    assert "ideas" in plan
    assert full_scans_of("ideas", plan) == [], plan


def idea_page_statement(monkeypatch, idea_id: int):
    """The one statement that loads an idea with everything its page (and its JSON) shows."""
    captured = []
    original = db.session.execute

    def spy(statement, params=None, *args, **kwargs):
        captured.append(statement.params(params or {}))
        return original(statement, params, *args, **kwargs)

    monkeypatch.setattr(db.session, "execute", spy)
    idea, _supported = services.get_idea_to_show(idea_id, viewer=None)
    monkeypatch.undo()
    assert len(captured) == 1
    return idea, captured[0]


def test_the_idea_page_reads_no_whole_table(db, board, monkeypatch):
    """Tags (a secondary table) and the merge target are joined flat, each searched by key.

    Nested joins, ``LEFT OUTER JOIN (idea_tags JOIN tags)`` or ``(ideas JOIN users)``, make
    SQLite materialise the whole inner table on every request.
    """
    from sqlalchemy import insert, update

    from app.accounts.models import User
    from app.ideas.models import Idea, Tag, idea_tags

    # Tables of some size, so that a scan is never the cheaper plan: 200 tags, most ideas
    # tagged, 200 people. Idea 41 is tagged "solar" (see the board), in a challenge and merged
    # into idea 1.
    db.session.execute(insert(Tag), [{"name": f"tag-{n}"} for n in range(200)])
    db.session.execute(
        insert(idea_tags), [{"idea_id": n, "tag_id": 2 + n % 200} for n in range(2, 401)]
    )
    db.session.execute(
        insert(User),
        [
            {"email": f"reader{n}@example.com", "display_name": f"Reader {n}", "password_hash": "x"}
            for n in range(200)
        ],
    )
    db.session.execute(
        update(Idea).where(Idea.id == 41).values(status="merged", merged_into_id=1, challenge_id=1)
    )
    db.session.commit()
    # Statistics in the connection that plans: SQLite reads them when it loads the schema, so
    # another pooled connection would still see the board's (one tag, one person).
    db.session.execute(text("ANALYZE"))
    idea, statement = idea_page_statement(monkeypatch, 41)
    assert [tag.name for tag in idea.tags] == ["solar", "tag-41"]
    assert idea.merged_into.title == "Idea 0"
    assert idea.challenge is not None
    plan = plan_of(statement)
    for table in ("ideas", "idea_tags", "tags", "users"):
        assert full_scans_of(table, plan) == [], plan
    assert "MATERIALIZE" not in plan, plan
    assert "ndex" in plan, plan  # "USING … INDEX" (SQLite) or "Index Scan" (PostgreSQL)


def test_vote_lookups_use_an_index(db, board):
    plan = plan_of(text("SELECT id FROM votes WHERE idea_id = 1 AND voter_id = 2"))
    assert full_scans_of("votes", plan) == [], plan
    assert "ndex" in plan, plan  # "USING … INDEX" (SQLite) or "Index Scan" (PostgreSQL)


@pytest.fixture
def board(db):
    """Enough ideas, spread over statuses, categories and a challenge, for real statistics."""
    from sqlalchemy import insert

    from app.database import utcnow
    from app.ideas.models import Idea, Tag, idea_tags
    from tests.factories import make_member

    kitchen, garden = make_category("Kitchen"), make_category("Garden")
    challenge = make_challenge()
    author = make_member()
    statuses = ["open"] * 6 + ["under_review", "shortlisted", "shipped", "declined"]
    now = utcnow()
    db.session.execute(
        insert(Idea),
        [
            {
                "title": f"Idea {n}",
                "body": "x",
                "body_html": "x",
                "status": statuses[n % 10],
                "author_id": author.id,
                "category_id": (kitchen.id, garden.id, None)[n % 3],
                "challenge_id": challenge.id if n % 7 == 0 else None,
                "created_at": now,
                "updated_at": now,
                "status_changed_at": now,
                "vote_count": n % 50,
                "recent_vote_count": n % 11,
                "hot_score": n / 10,
            }
            for n in range(400)
        ],
    )
    db.session.add(Tag(name="solar"))
    db.session.flush()
    db.session.execute(insert(idea_tags), [{"idea_id": n, "tag_id": 1} for n in range(1, 400, 40)])
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
