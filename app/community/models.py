from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.database import UTCDateTime, utcnow
from app.extensions import db

if TYPE_CHECKING:
    from app.ideas.models import Idea

REACTIONS = ("👍", "❤️", "🎉", "💡")


def one_of(values: tuple[str, ...]) -> str:
    """SQL for a CHECK constraint's list: ('a', 'b'); a Python tuple would add a comma."""
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


FOLLOW_KINDS = ("idea", "challenge", "category", "user")
FREQUENCIES = ("immediately", "daily", "never")
CHANNELS = ("email",)


class Comment(db.Model):
    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint("(idea_id IS NULL) <> (challenge_id IS NULL)", name="on_idea_or_challenge"),
        Index("ix_comments_idea_created", "idea_id", "created_at"),
        Index("ix_comments_challenge_created", "challenge_id", "created_at"),
        # A long conversation's first and last branches, and its official answer, found
        # without walking every comment (community.services.thread).
        Index("ix_comments_idea_roots", "idea_id", "parent_id", "created_at"),
        Index("ix_comments_idea_official", "idea_id", "is_official"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    challenge_id: Mapped[int | None] = mapped_column(
        ForeignKey("challenges.id", ondelete="CASCADE")
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    depth: Mapped[int] = mapped_column(default=0)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # Staff comments carry a badge; the flag is fixed when the comment is written.
    by_staff: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_official: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A deleted comment keeps its place in the thread as a "removed" placeholder.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    # Set by post_comment to the idea its counter's UPDATE returned, so the answer that shows
    # the conversation has it without reading it again; elsewhere loaded when used.
    idea: Mapped[Idea | None] = relationship(viewonly=True)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class CommentRevision(db.Model):
    __tablename__ = "comment_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reaction(db.Model):
    __tablename__ = "reactions"
    __table_args__ = (CheckConstraint(f"emoji IN {one_of(REACTIONS)}", name="emoji_known"),)

    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    emoji: Mapped[str] = mapped_column(String(8), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Follow(db.Model):
    __tablename__ = "follows"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", "target_id", name="uq_follows_user_target"),
        CheckConstraint(f"kind IN {one_of(FOLLOW_KINDS)}", name="kind_known"),
        Index("ix_follows_target", "kind", "target_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    target_id: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_recipient", "recipient_id", "read_at", "id"),
        Index("ix_notifications_unmailed", "emailed_at", "recipient_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    idea_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    challenge_id: Mapped[int | None] = mapped_column(
        ForeignKey("challenges.id", ondelete="CASCADE")
    )
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    # The sentence shown to the recipient, written when the event happened.
    text: Mapped[str] = mapped_column(String(300))
    url: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when mailed (immediately or in a digest), or when mail is not wanted for it.
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id], lazy="joined")


class NotificationPreference(db.Model):
    __tablename__ = "notification_preferences"
    __table_args__ = (
        CheckConstraint(f"frequency IN {one_of(FREQUENCIES)}", name="frequency_known"),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    frequency: Mapped[str] = mapped_column(String(12))


class Consent(db.Model):
    """Permission to contact someone on a channel; the CRM builds on the same table."""

    __tablename__ = "consents"
    __table_args__ = (CheckConstraint(f"channel IN {one_of(CHANNELS)}", name="channel_known"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Profile(db.Model):
    __tablename__ = "profiles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    bio: Mapped[str] = mapped_column(String(500), default="")
    avatar_path: Mapped[str | None] = mapped_column(String(200))
    show_points: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Activity(db.Model):
    """What happened on the board, for the home page feed (written by event subscribers)."""

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_idea", "idea_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    idea_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    challenge_id: Mapped[int | None] = mapped_column(
        ForeignKey("challenges.id", ondelete="CASCADE")
    )
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    actor: Mapped[User | None] = relationship(lazy="joined")
