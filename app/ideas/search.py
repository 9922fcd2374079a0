"""Ranked full-text search over ideas: SQLite FTS5, or PostgreSQL tsvector with a GIN index.

Both are created by the migrations (the FTS5 table is kept in step by triggers that fire only
when a title or body changes, not on every vote). ``ranked(text)`` gives a subquery of
``(idea_id, rank)``, lower rank = better match, that list and similar-ideas queries join.
"""

from __future__ import annotations

import re

from sqlalchemy import Float, Integer, Subquery, column, func, literal_column, select, table
from sqlalchemy.sql.expression import bindparam

from app.extensions import db

MAX_WORDS = 12
_fts = table("ideas_fts", column("rowid", Integer), column("title"), column("body"))


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", (text or "").lower())[:MAX_WORDS]


def ranked(text: str, *, any_word: bool = False) -> Subquery | None:
    """Ideas matching ``text`` (every word, or ``any_word``), best first; None if no words."""
    words = _words(text)
    if not words:
        return None
    if db.session.get_bind().dialect.name == "postgresql":
        if any_word:
            query = func.to_tsquery("english", " | ".join(f"{w}:*" for w in words))
        else:
            query = func.to_tsquery("english", " & ".join(f"{w}:*" for w in words))
        vector = literal_column("ideas.search_vector")
        return (
            select(
                literal_column("ideas.id", Integer).label("idea_id"),
                (-func.ts_rank_cd(vector, query)).cast(Float).label("rank"),
            )
            .select_from(table("ideas"))
            .where(vector.op("@@")(query))
            .subquery("ranked")
        )
    joiner = " OR " if any_word else " "
    match = joiner.join(f'"{w}"*' for w in words)
    return (
        select(
            _fts.c.rowid.label("idea_id"),
            func.bm25(literal_column("ideas_fts"), 10.0, 1.0).cast(Float).label("rank"),
        )
        .select_from(_fts)
        .where(literal_column("ideas_fts").op("MATCH")(bindparam("fts_match", match)))
        .subquery("ranked")
    )
