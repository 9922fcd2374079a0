"""The status workflow of an idea: which moves exist and who may make each.

    pending ──▶ open ──▶ under_review ──▶ shortlisted ──▶ adopted ──▶ in_production ──▶ shipped
       │          │  ◀──────┘   │  ◀──────────┘  │
       └──────────┴─────────────┴────────────────┴──▶ declined ──▶ open (reopened)
    Any idea not yet adopted can be merged into another (see services.merge_ideas), or removed
    as spam by a moderator (from pending, open, under review, shortlisted or declined); a
    moderator who removed one by mistake restores it as open.

The review threshold (default 100 supporters) moves an open idea to under_review by itself; that
move has no actor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from app.accounts.permissions import can_moderate, is_product_team
from app.ideas.models import (
    ADOPTED,
    DECLINED,
    IN_PRODUCTION,
    MERGED,
    OPEN,
    PENDING,
    REMOVED,
    SHIPPED,
    SHORTLISTED,
    UNDER_REVIEW,
)


def _curator(user) -> bool:
    return can_moderate(user) or is_product_team(user)


@dataclass(frozen=True)
class Move:
    source: str
    target: str
    allowed: Callable[[object], bool]
    label: object
    needs_note: bool = False


MOVES: tuple[Move, ...] = (
    Move(PENDING, OPEN, can_moderate, _l("Approve")),
    Move(PENDING, DECLINED, can_moderate, _l("Decline"), needs_note=True),
    Move(OPEN, UNDER_REVIEW, is_product_team, _l("Start review")),
    Move(OPEN, DECLINED, _curator, _l("Decline"), needs_note=True),
    Move(UNDER_REVIEW, SHORTLISTED, is_product_team, _l("Shortlist")),
    Move(UNDER_REVIEW, OPEN, is_product_team, _l("Back to open")),
    Move(UNDER_REVIEW, DECLINED, is_product_team, _l("Decline"), needs_note=True),
    Move(SHORTLISTED, ADOPTED, is_product_team, _l("Adopt")),
    Move(SHORTLISTED, UNDER_REVIEW, is_product_team, _l("Back to review")),
    Move(SHORTLISTED, DECLINED, is_product_team, _l("Decline"), needs_note=True),
    Move(ADOPTED, IN_PRODUCTION, is_product_team, _l("Start production")),
    Move(IN_PRODUCTION, SHIPPED, is_product_team, _l("Mark shipped")),
    Move(DECLINED, OPEN, _curator, _l("Reopen")),
    # Spam: hidden from everyone but its author and moderators, its points taken back.
    *(
        Move(source, REMOVED, can_moderate, _l("Remove as spam"), needs_note=True)
        for source in (PENDING, OPEN, UNDER_REVIEW, SHORTLISTED, DECLINED)
    ),
    # A mistake undone. What the removal took back stays taken back (each payment's key is
    # spent); from now on the idea earns by the usual rules.
    Move(REMOVED, OPEN, can_moderate, _l("Restore")),
)
_BY_PAIR = {(move.source, move.target): move for move in MOVES}

# Statuses in which people can still support an idea.
VOTABLE = frozenset({OPEN, UNDER_REVIEW, SHORTLISTED, ADOPTED, IN_PRODUCTION})
# Statuses an idea may be merged from (once adopted it has its own life).
MERGEABLE = frozenset({PENDING, OPEN, UNDER_REVIEW, SHORTLISTED, DECLINED})
# Statuses shown only to their author and moderators; every other status is public.
HIDDEN = frozenset({PENDING, REMOVED})

STATUS_LABELS = {
    PENDING: _l("Awaiting moderation"),
    OPEN: _l("Open"),
    UNDER_REVIEW: _l("Under review"),
    SHORTLISTED: _l("Shortlisted"),
    ADOPTED: _l("Adopted"),
    IN_PRODUCTION: _l("In production"),
    SHIPPED: _l("Shipped"),
    DECLINED: _l("Declined"),
    MERGED: _l("Merged"),
    REMOVED: _l("Removed as spam"),
}


def find_move(source: str, target: str) -> Move | None:
    return _BY_PAIR.get((source, target))


def moves_for(user, status: str) -> list[Move]:
    """The moves ``user`` may make from ``status``, for buttons on the idea page."""
    return [move for move in MOVES if move.source == status and move.allowed(user)]
