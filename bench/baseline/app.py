"""The baseline: a deliberately plain Flask + Flask-SQLAlchemy app, the yardstick of `make bench`.

Its own tiny schema: people (with the SHA-256 of an API token), ideas with a stored supporter
count and hot score (indexed), and votes unique per (idea, person). Three things to do:

- ``GET /ideas?sort=hot|new``: 30 ideas with their authors, one query, as JSON;
- ``PUT /ideas/<id>/vote``: insert a vote (once) and bump the stored count and hot score;
- ``DELETE /ideas/<id>/vote``: its withdrawal.

Callers send ``Authorization: Bearer <token>`` (one indexed lookup). It runs with the same
SQLite settings as Cocreate (WAL, synchronous=NORMAL, a busy timeout, BEGIN IMMEDIATE for
writes) or on PostgreSQL. ``BASELINE_DATABASE_URL`` names the database.
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
from datetime import UTC, datetime

from flask import Flask, abort, has_request_context, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    delete,
    event,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

db = SQLAlchemy()

HOT_EPOCH = 1_704_067_200.0  # the same hot score as Cocreate's
HOT_TIME_SCALE = 2 * 24 * 3600.0


def hot_score(vote_count: int, created_at: datetime) -> float:
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    age = (created_at.timestamp() - HOT_EPOCH) / HOT_TIME_SCALE
    return round(math.log10(max(vote_count, 1)) + age, 7)


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Person(db.Model):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class Idea(db.Model):
    __tablename__ = "ideas"
    __table_args__ = (
        Index("ix_ideas_hot", "hot_score"),
        Index("ix_ideas_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(140))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    vote_count: Mapped[int] = mapped_column(default=0)
    hot_score: Mapped[float] = mapped_column(Float, default=0.0)


class Vote(db.Model):
    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("idea_id", "person_id", name="uq_votes_idea_person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


def _sqlite_settings(dbapi_connection, connection_record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None  # we say BEGIN ourselves, below
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn) -> None:
    if conn.dialect.name != "sqlite":
        return
    if conn.connection.dbapi_connection.in_transaction:
        return  # begun already by Cocreate's own listener (when both live in one process: tests)
    writing = has_request_context() and request.method not in ("GET", "HEAD")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # stored naive, in UTC


def _current_person_id() -> int:
    scheme, _sep, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw:
        abort(401)
    person_id = db.session.scalar(select(Person.id).where(Person.token_hash == token_digest(raw)))
    if person_id is None:
        abort(401)
    return person_id


def _upsert(model):
    dialect = db.session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


def _move_count(idea_id: int, delta: int) -> int:
    new_count, created_at = db.session.execute(
        update(Idea)
        .where(Idea.id == idea_id)
        .values(vote_count=Idea.vote_count + delta)
        .returning(Idea.vote_count, Idea.created_at)
    ).one()
    db.session.execute(
        update(Idea).where(Idea.id == idea_id).values(hot_score=hot_score(new_count, created_at))
    )
    return new_count


def create_app(database_url: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url or os.environ["BASELINE_DATABASE_URL"]
    app.config["COUNT_QUERIES"] = os.environ.get("COUNT_QUERIES", "") in {"1", "true", "on"}
    db.init_app(app)
    with app.app_context():
        event.listen(db.engine, "connect", _sqlite_settings)
        event.listen(db.engine, "begin", _sqlite_begin)

    from app import querycount  # the same X-Query-Count header as Cocreate's

    querycount.init_app(app)

    @app.get("/ideas")
    def ideas():
        order = (
            Idea.created_at.desc() if request.args.get("sort") == "new" else Idea.hot_score.desc()
        )
        rows = db.session.execute(
            select(Idea, Person.name)
            .join(Person, Person.id == Idea.author_id)
            .order_by(order, Idea.id.desc())
            .limit(30)
        ).all()
        return jsonify(
            items=[
                {
                    "id": idea.id,
                    "title": idea.title,
                    "body": idea.body,
                    "vote_count": idea.vote_count,
                    "created_at": idea.created_at.isoformat(),
                    "author": {"id": idea.author_id, "name": name},
                }
                for idea, name in rows
            ]
        )

    @app.put("/ideas/<int:idea_id>/vote")
    def vote(idea_id: int):
        person_id = _current_person_id()
        if db.session.get(Idea, idea_id) is None:
            abort(404)
        inserted = db.session.execute(
            _upsert(Vote)
            .values(idea_id=idea_id, person_id=person_id, created_at=_now())
            .on_conflict_do_nothing(index_elements=["idea_id", "person_id"])
            .returning(Vote.id)
        ).first()
        if inserted is None:
            count = db.session.scalar(select(Idea.vote_count).where(Idea.id == idea_id))
        else:
            count = _move_count(idea_id, +1)
        db.session.commit()
        return jsonify(vote_count=count, voted=True)

    @app.delete("/ideas/<int:idea_id>/vote")
    def unvote(idea_id: int):
        person_id = _current_person_id()
        removed = db.session.execute(
            delete(Vote)
            .where(Vote.idea_id == idea_id, Vote.person_id == person_id)
            .returning(Vote.id)
        ).first()
        if removed is None:
            count = db.session.scalar(select(Idea.vote_count).where(Idea.id == idea_id))
            if count is None:
                abort(404)
        else:
            count = _move_count(idea_id, -1)
        db.session.commit()
        return jsonify(vote_count=count, voted=False)

    @app.get("/healthz")
    def healthz():
        db.session.execute(select(1))
        return jsonify(status="ok")

    return app
