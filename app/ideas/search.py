"""Ranked full-text search over ideas: SQLite FTS5, or PostgreSQL tsvector with a GIN index.

Both are created by the migrations (the FTS5 table is kept in step by triggers that fire only
when a title or body changes, not on every vote). ``ranked(text)`` gives a subquery of
``(idea_id, rank)``, lower rank = better match, that list and similar-ideas queries join.
"""

from __future__ import annotations

import re

from sqlalchemy import (
    Float,
    Integer,
    String,
    Subquery,
    column,
    func,
    literal_column,
    select,
    table,
)
from sqlalchemy.sql.expression import BindParameter, bindparam

from app.extensions import db

MAX_WORDS = 12
_fts = table("ideas_fts", column("rowid", Integer), column("title"), column("body"))


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", (text or "").lower())[:MAX_WORDS]


def match_text(text: str, dialect: str, *, any_word: bool = False) -> str | None:
    """The search parameter for ``text`` on this database (None if it has no words)."""
    words = _words(text)
    if not words:
        return None
    if dialect == "postgresql":
        return (" | " if any_word else " & ").join(f"{w}:*" for w in words)
    return (" OR " if any_word else " ").join(f'"{w}"*' for w in words)


def ranked_by(dialect: str, param: BindParameter, cap: BindParameter | None = None) -> Subquery:
    """Ideas matching the search parameter ``param`` (see match_text); lower rank = better.

    With ``cap``, only that many best matches. Built around bound parameters, so callers may
    build it once and reuse it for any text.
    """
    if dialect == "postgresql":
        query = func.to_tsquery("english", param)
        vector = literal_column("ideas.search_vector")
        rank = (-func.ts_rank_cd(vector, query)).cast(Float)
        stmt = (
            select(literal_column("ideas.id", Integer).label("idea_id"), rank.label("rank"))
            .select_from(table("ideas"))
            .where(vector.op("@@")(query))
        )
    else:
        # Weights (title, body) written into the SQL: constants, not parameters.
        weights = literal_column("10.0"), literal_column("1.0")
        rank = func.bm25(literal_column("ideas_fts"), *weights).cast(Float)
        stmt = (
            select(_fts.c.rowid.label("idea_id"), rank.label("rank"))
            .select_from(_fts)
            .where(literal_column("ideas_fts").op("MATCH")(param))
        )
    if cap is not None:
        stmt = stmt.order_by(rank).limit(cap)
    return stmt.subquery("ranked")


def ranked(text: str, *, any_word: bool = False) -> Subquery | None:
    """Ideas matching ``text`` (every word, or ``any_word``), best first; None if no words."""
    dialect = db.session.get_bind().dialect.name
    match = match_text(text, dialect, any_word=any_word)
    if match is None:
        return None
    return ranked_by(dialect, bindparam("search_match", match, type_=String))
