from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.database import UTCDateTime, utcnow
from app.extensions import db

PENDING = "pending"
OPEN = "open"
UNDER_REVIEW = "under_review"
SHORTLISTED = "shortlisted"
ADOPTED = "adopted"
IN_PRODUCTION = "in_production"
SHIPPED = "shipped"
DECLINED = "declined"
MERGED = "merged"
REMOVED = "removed"  # by a moderator, as spam: seen only by its author and moderators
STATUSES = (PENDING, OPEN, UNDER_REVIEW, SHORTLISTED, ADOPTED, IN_PRODUCTION, SHIPPED, DECLINED,
            MERGED, REMOVED)  # fmt: skip


class Category(db.Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(default=0)


idea_tags = Table(
    "idea_tags",
    db.metadata,
    Column("idea_id", ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Tag(db.Model):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)


class Challenge(db.Model):
    __tablename__ = "challenges"
    __table_args__ = (CheckConstraint("closes_at > opens_at", name="closes_after_opening"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(140))
    brief: Mapped[str] = mapped_column(Text)
    brief_html: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    cover_image: Mapped[str | None] = mapped_column(String(200))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    bonus_points: Mapped[int | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set once by close_due_challenges(), which announces challenge_closed.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idea_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # The idea with the most supporters when the challenge closed (earliest first on a tie).
    winner_idea_id: Mapped[int | None] = mapped_column(
        ForeignKey("ideas.id", use_alter=True, ondelete="SET NULL")
    )

    category: Mapped[Category | None] = relationship(lazy="joined")
    winner: Mapped[Idea | None] = relationship(foreign_keys=[winner_idea_id])

    def is_open(self, now: datetime) -> bool:
        return self.opens_at <= now < self.closes_at

    def phase(self, now: datetime) -> str:
        if now < self.opens_at:
            return "upcoming"
        return "open" if now < self.closes_at else "closed"


class Idea(db.Model):
    __tablename__ = "ideas"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status_known"),
        CheckConstraint("vote_count >= 0", name="vote_count_not_negative"),
        # Every list sort is a walk down one of these.
        Index("ix_ideas_status_hot", "status", "hot_score"),
        Index("ix_ideas_status_votes", "status", "vote_count"),
        Index("ix_ideas_status_recent", "status", "recent_vote_count"),
        Index("ix_ideas_status_created", "status", "created_at"),
        Index("ix_ideas_hot", "hot_score"),
        Index("ix_ideas_votes", "vote_count"),
        Index("ix_ideas_recent", "recent_vote_count"),
        Index("ix_ideas_created", "created_at"),
        Index("ix_ideas_category_hot", "category_id", "hot_score"),
        Index("ix_ideas_challenge_hot", "challenge_id", "hot_score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(140))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=OPEN)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    challenge_id: Mapped[int | None] = mapped_column(ForeignKey("challenges.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Kept exact by the services: vote_count equals the idea's rows in votes.
    vote_count: Mapped[int] = mapped_column(default=0, server_default="0")
    comment_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # Supporters in the last seven days: +1/-1 on each vote, recounted by `ideas rescore`.
    recent_vote_count: Mapped[int] = mapped_column(default=0, server_default="0")
    hot_score: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id"))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    official_response: Mapped[str | None] = mapped_column(Text)
    official_response_html: Mapped[str | None] = mapped_column(Text)
    official_response_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    official_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined", innerjoin=True)
    category: Mapped[Category | None] = relationship(lazy="joined")
    challenge: Mapped[Challenge | None] = relationship(foreign_keys=[challenge_id])
    # Loaded where they are shown (lists ask for them with selectinload, one idea joins them):
    # a vote, a comment or a notification about an idea has no use for them.
    tags: Mapped[list[Tag]] = relationship(secondary=idea_tags, order_by=Tag.name)
    merged_into: Mapped[Idea | None] = relationship(remote_side=[id])
    official_response_by: Mapped[User | None] = relationship(foreign_keys=[official_response_by_id])
    images: Mapped[list[IdeaImage]] = relationship(
        back_populates="idea", order_by="IdeaImage.position", cascade="all, delete-orphan"
    )


class Vote(db.Model):
    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("idea_id", "voter_id", name="uq_votes_idea_voter"),
        Index("ix_votes_voter", "voter_id", "idea_id"),
        Index("ix_votes_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdeaRevision(db.Model):
    __tablename__ = "idea_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), index=True)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(140))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    editor: Mapped[User | None] = relationship()


class StatusChange(db.Model):
    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship()


class Milestone(db.Model):
    __tablename__ = "milestones"
    __table_args__ = (
        UniqueConstraint("idea_id", "threshold", name="uq_milestones_idea_threshold"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    threshold: Mapped[int] = mapped_column(Integer)
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdeaMerge(db.Model):
    __tablename__ = "idea_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    moved_votes: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    source: Mapped[Idea] = relationship(foreign_keys=[source_id])
    target: Mapped[Idea] = relationship(foreign_keys=[target_id])
    actor: Mapped[User | None] = relationship()


class IdeaImage(db.Model):
    __tablename__ = "idea_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), index=True)
    # Relative to the media folder (instance/media), e.g. "ideas/12/3f2a….webp".
    path: Mapped[str] = mapped_column(String(200), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    size: Mapped[int] = mapped_column()
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    idea: Mapped[Idea] = relationship(back_populates="images")
