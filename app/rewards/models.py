from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.database import UTCDateTime, utcnow
from app.extensions import db


class LedgerEntry(db.Model):
    """One movement of points. Append-only: a mistake is undone by a compensating entry."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_user_created", "user_id", "created_at"),
        Index("ix_ledger_user_reason_created", "user_id", "reason", "created_at"),
        # Per-challenge leaderboards and the history's links find entries by what they paid for.
        Index("ix_ledger_source", "source_kind", "source_id"),
        Index("ix_ledger_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    amount: Mapped[int] = mapped_column()
    # How the entry moves lifetime points (levels): what it earned, nothing for spending and
    # its refunds, all that an undone entry paid for its reversal.
    lifetime: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    reason: Mapped[str] = mapped_column(String(40))
    source_kind: Mapped[str | None] = mapped_column(String(20))
    source_id: Mapped[int | None] = mapped_column()
    # The same event, delivered twice, pays once: its key is unique.
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    note: Mapped[str] = mapped_column(String(300), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Balance(db.Model):
    """The sum of a person's entries, kept for speed by the database itself: each entry moves
    it as it is written (a trigger; see the migration "balances kept by the ledger"), and
    `flask rewards verify` proves it. Never negative: an entry that would overdraw it fails."""

    __tablename__ = "balances"
    __table_args__ = (CheckConstraint("balance >= 0", name="not_negative"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    balance: Mapped[int] = mapped_column(default=0)
    lifetime: Mapped[int] = mapped_column(default=0)


class EarningRule(db.Model):
    """An admin's change to a default rule (app.rewards.rules.DEFAULT_RULES)."""

    __tablename__ = "earning_rules"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    amount: Mapped[int] = mapped_column()
    daily_cap: Mapped[int | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RewardItem(db.Model):
    __tablename__ = "reward_items"
    __table_args__ = (
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        CheckConstraint("cost > 0", name="cost_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(2000), default="")
    cost: Mapped[int] = mapped_column()
    # None: unlimited.
    stock: Mapped[int | None] = mapped_column()
    per_person_limit: Mapped[int | None] = mapped_column()
    active_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A picture under the media folder (re-encoded like idea images), or None.
    image_path: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Redemption(db.Model):
    __tablename__ = "redemptions"
    __table_args__ = (
        CheckConstraint("status IN ('requested', 'fulfilled', 'cancelled')", name="status_known"),
        Index("ix_redemptions_user_item", "user_id", "item_id"),
        Index("ix_redemptions_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("reward_items.id"))
    cost: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), default="requested")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # What staff tell the customer when fulfilling or cancelling (a tracking number, a reason).
    staff_note: Mapped[str] = mapped_column(String(500), default="", server_default="")

    item: Mapped[RewardItem] = relationship(lazy="joined")
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class UserBadge(db.Model):
    """A badge someone earned (the badges themselves are defined in app.rewards.badges)."""

    __tablename__ = "user_badges"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    awarded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The person's balance row, reachable from the person (one LEFT JOIN when the signed-in person
# is loaded; see app.rewards.init_app). Declared here so accounts knows nothing of rewards.
User.balance_row = relationship(Balance, uselist=False, lazy="select", viewonly=True)
