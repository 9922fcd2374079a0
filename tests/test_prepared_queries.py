"""Hot reads compiled once and run as the driver's SQL (app.database.PreparedQuery)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Float, bindparam, func, literal, select

from app.database import PreparedQuery, as_utc
from app.ideas.models import Idea
from tests.factories import make_idea


def test_a_prepared_query_answers_as_the_statement_does(db):
    first, second = make_idea(title="Kettle"), make_idea(title="Lamp")
    statement = (
        select(Idea.id, Idea.title, Idea.created_at)
        .where(Idea.id >= bindparam("from_id"))
        .order_by(Idea.id)
        .limit(bindparam("limit"))
    )
    query = PreparedQuery(statement, db.session.get_bind().dialect)
    conn = db.session.connection()

    rows = query.execute(conn, {"from_id": first.id, "limit": 5}).all()
    expected = conn.execute(statement, {"from_id": first.id, "limit": 5}).all()

    assert [(row.id, row.title) for row in rows] == [(first.id, "Kettle"), (second.id, "Lamp")]
    assert [as_utc(row.created_at) for row in rows] == [row.created_at for row in expected]
    assert query.execute(conn, {"from_id": second.id, "limit": 5}).all()[0].title == "Lamp"


def test_a_prepared_query_refuses_parameters_it_would_pass_unconverted(db):
    dialect = db.session.get_bind().dialect
    with pytest.raises(ValueError, match="rendering or conversion"):
        PreparedQuery(select(func.aggregate_strings(Idea.title, ",")), dialect)
    if dialect.name == "sqlite":  # PostgreSQL's driver takes floats as they are
        with pytest.raises(ValueError, match="rendering or conversion"):
            PreparedQuery(select(literal(1.5, Float)), dialect)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("2026-11-23 13:27:52.795174", datetime(2026, 11, 23, 13, 27, 52, 795174, tzinfo=UTC)),
        ("2026-11-23 13:27:52", datetime(2026, 11, 23, 13, 27, 52, tzinfo=UTC)),
        (
            datetime(2026, 11, 23, 14, 0, tzinfo=timezone(timedelta(hours=1))),
            datetime(2026, 11, 23, 13, 0, tzinfo=UTC),
        ),
    ],
)
def test_timestamps_read_raw_come_back_as_utc(raw, expected):
    value = as_utc(raw)
    assert value == expected
    assert value is None or value.tzinfo is UTC
