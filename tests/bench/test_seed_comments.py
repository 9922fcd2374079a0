"""seed-demo --comments: bulk comments by customers, with the ideas' counters exact."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.accounts.models import UserRole
from app.community.models import Comment
from app.ideas.models import Idea


def test_seed_demo_comments_keep_counters_exact(app, db):
    result = app.test_cli_runner().invoke(
        args=[
            "seed-demo",
            *("--ideas", "40", "--votes", "150", "--people", "30", "--comments", "500"),
        ]
    )
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count()).select_from(Comment)) == 500
    mismatched = db.session.scalar(
        select(func.count())
        .select_from(Idea)
        .where(
            Idea.comment_count
            != select(func.count(Comment.id))
            .where(Comment.idea_id == Idea.id, Comment.deleted_at.is_(None))
            .scalar_subquery()
        )
    )
    assert mismatched == 0
    assert db.session.scalar(select(func.sum(Idea.comment_count))) == 500
    # Replies answer an earlier comment on the same idea, one level down.
    parent = aliased(Comment)
    replies = db.session.execute(
        select(Comment, parent).join(parent, parent.id == Comment.parent_id)
    ).all()
    assert replies
    for reply, answered in replies:
        assert reply.idea_id == answered.idea_id
        assert reply.depth == 1
        assert answered.depth == 0
        assert reply.created_at >= answered.created_at
    # Written by customers, not staff.
    staff = select(UserRole.user_id)
    assert not db.session.scalar(
        select(func.count()).select_from(Comment).where(Comment.author_id.in_(staff))
    )
