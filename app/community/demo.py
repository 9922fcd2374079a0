"""Bulk conversation for benchmarks: ``flask seed-demo --comments N``."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, insert, select, update

from app.accounts.models import User, UserRole
from app.community.models import Comment
from app.database import utcnow
from app.extensions import db
from app.ideas.models import Idea
from app.text import render_markdown

# A few bodies, rendered once: markdown per row would dominate the seeding time.
_BODIES = [
    "I would buy this tomorrow. Any idea of the price?",
    "Great idea! It should also come in a **smaller size** for flats.",
    "We tried something like this at home:\n\n- it works\n- but it needs a better lid",
    "+1, and please make the parts replaceable.",
    "Could it be made from recycled material?",
    "My kids would love this. How heavy would it be?",
    "Not sure about this one: the existing products already do most of it.",
    "Please keep it simple, no app needed.",
]


def seed_comments(*, comments: int, batch: int = 20_000, seed: int = 2027) -> int:
    """Add about ``comments`` comments on ideas, by customers, with a long tail per idea.

    About a quarter are replies (depth 1) to an earlier comment on the same idea. Rows go in with
    multi-row INSERTs, bypassing the services (no notifications, points or follows); every idea's
    stored ``comment_count`` is then set from the rows (comments not removed), so it is exact.
    Returns the number of comments added.
    """
    if comments <= 0:
        return 0
    rng = random.Random(seed)
    now = utcnow()
    ideas = db.session.execute(select(Idea.id, Idea.created_at).order_by(Idea.id)).all()
    authors = list(
        db.session.scalars(
            select(User.id)
            .where(~select(UserRole.user_id).where(UserRole.user_id == User.id).exists())
            .order_by(User.id)
        )
    )
    if not ideas or not authors:
        return 0
    rendered = [(body, render_markdown(body)) for body in _BODIES]
    # The most discussed ideas are spread over the board, not the first ids.
    order = list(range(len(ideas)))
    rng.shuffle(order)
    weights = [1 / (rank + 10) for rank in range(len(ideas))]
    total = sum(weights)
    wanted = [int(comments * w / total) for w in weights]
    wanted[0] += comments - sum(wanted)

    first_id = (db.session.scalar(select(func.max(Comment.id))) or 0) + 1
    next_id = first_id
    pending: list[dict] = []
    for rank, count in enumerate(wanted):
        if count <= 0:
            continue
        idea_id, idea_created = ideas[order[rank]]
        span = max((now - idea_created).total_seconds(), 60.0)
        # Oldest first, so a reply always comes after the comment it answers.
        offsets = sorted(rng.random() * span for _ in range(count))
        moments = [idea_created + timedelta(seconds=offset) for offset in offsets]
        roots: list[int] = []
        for moment in moments:
            body, body_html = rendered[rng.randrange(len(rendered))]
            parent = rng.choice(roots) if roots and rng.random() < 0.25 else None
            pending.append(
                {
                    "id": next_id,
                    "idea_id": idea_id,
                    "parent_id": parent,
                    "depth": 1 if parent else 0,
                    "author_id": authors[rng.randrange(len(authors))],
                    "body": body,
                    "body_html": body_html,
                    "by_staff": False,
                    "is_official": False,
                    "created_at": moment,
                }
            )
            if parent is None:
                roots.append(next_id)
            next_id += 1
            if len(pending) >= batch:
                db.session.execute(insert(Comment), pending)
                pending = []
    if pending:
        db.session.execute(insert(Comment), pending)
    # Exact counters: comments not removed, per idea (every idea, not only those seeded here).
    db.session.execute(
        update(Idea)
        .values(
            comment_count=select(func.count(Comment.id))
            .where(Comment.idea_id == Idea.id, Comment.deleted_at.is_(None))
            .scalar_subquery()
        )
        .execution_options(synchronize_session=False)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        # Explicit ids: move the sequence past them for the comments people post next.
        db.session.execute(
            select(func.setval(func.pg_get_serial_sequence("comments", "id"), func.max(Comment.id)))
        )
    db.session.commit()
    return next_id - first_id
