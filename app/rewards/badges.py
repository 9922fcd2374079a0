"""Badges: what each one means, and awarding it once."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.database import upsert, utcnow
from app.extensions import db
from app.rewards.models import UserBadge


@dataclass(frozen=True)
class Badge:
    code: str
    name: object
    description: object


BADGES = {
    badge.code: badge
    for badge in (
        Badge("first_idea", _l("First idea"), _l("Shared a first idea.")),
        Badge("ten_ideas", _l("Idea machine"), _l("Shared ten ideas.")),
        Badge("hundred_supporters", _l("Crowd favourite"), _l("An idea reached 100 supporters.")),
        Badge("adopted_creator", _l("Adopted creator"), _l("An idea was adopted.")),
        Badge("challenge_winner", _l("Challenge winner"), _l("Won a challenge.")),
        Badge(
            "early_backer",
            _l("Early backer"),
            _l("Among the first to pre-order a product made from an idea."),
        ),
        Badge(
            "conversationalist",
            _l("Conversationalist"),
            _l("Joined ten conversations on others' ideas."),
        ),
    )
}


def award(user_id: int, code: str) -> bool:
    """Give the badge once; True when it is new. Inside the caller's transaction."""
    assert code in BADGES, code
    return (
        db.session.execute(
            upsert(UserBadge)
            .values(user_id=user_id, code=code, awarded_at=utcnow())
            .on_conflict_do_nothing(index_elements=["user_id", "code"])
            .returning(UserBadge.code)
        ).scalar()
        is not None
    )


def badges_of(user_id: int) -> list[tuple[Badge, object]]:
    rows = db.session.execute(
        select(UserBadge.code, UserBadge.awarded_at)
        .where(UserBadge.user_id == user_id)
        .order_by(UserBadge.awarded_at)
    )
    return [(BADGES[code], awarded_at) for code, awarded_at in rows if code in BADGES]


def published_ideas(user_id: int) -> int:
    from app.ideas.models import MERGED, Idea
    from app.ideas.workflow import HIDDEN

    return db.session.scalar(
        select(func.count())
        .select_from(Idea)
        .where(Idea.author_id == user_id, Idea.status.not_in((*HIDDEN, MERGED)))
    )
