from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, and_, func, or_
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import UTCDateTime, utcnow
from app.extensions import db

CUSTOMER = "customer"
MODERATOR = "moderator"
PRODUCT = "product"
ADMIN = "admin"
# Everyone is a customer; the other roles are granted (stored in user_roles).
ROLES = (CUSTOMER, MODERATOR, PRODUCT, ADMIN)
GRANTED_ROLES = (MODERATOR, PRODUCT, ADMIN)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(255))
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locale: Mapped[str | None] = mapped_column(String(16))
    # Part of the login id kept in sessions and remember-me cookies: bumping it (on a password
    # change or reset) ends every other session at once.
    auth_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    # Kept exact in SQL by app.community.services (+1 with each notification, -n when n are
    # marked read, in the same transaction), so the bell on every page costs no query.
    unread_notifications: Mapped[int] = mapped_column(default=0, server_default="0")
    # Suspended by a moderator or an admin: since when, until when (None: until lifted), why.
    # A suspended person reads and manages their account but contributes nothing and earns
    # nothing (see is_suspended and app.accounts.services.suspend).
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspension_reason: Mapped[str | None] = mapped_column(String(500))
    suspended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    # Loaded with the signed-in user (see services.load_user_from_session); authors shown in
    # lists do not need them.
    granted_roles: Mapped[list[UserRole]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        foreign_keys="UserRole.user_id",
    )

    def get_id(self) -> str:
        return f"{self.id}:{self.auth_epoch}"

    @property
    def roles(self) -> frozenset[str]:
        return frozenset({CUSTOMER, *(grant.role for grant in self.granted_roles)})

    @hybrid_method
    def suspended_on(self, moment: datetime) -> bool:
        """Suspended at ``moment``: a suspension that ran out needs no job to end it. Also a SQL
        expression on the class (``User.suspended_on(now)``), for queries that leave them out."""
        if self.suspended_at is None:
            return False
        return self.suspended_until is None or self.suspended_until > moment

    @suspended_on.expression
    def suspended_on(cls, moment: datetime):
        return and_(
            cls.suspended_at.is_not(None),
            or_(cls.suspended_until.is_(None), cls.suspended_until > moment),
        )

    @property
    def is_suspended(self) -> bool:
        return self.suspended_on(utcnow())

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class UserRole(db.Model):
    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(f"role IN {GRANTED_ROLES!r}", name="role_known"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(back_populates="granted_roles", foreign_keys=[user_id])


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # SHA-256 of the token: the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


# @mentions are resolved by name, case-insensitively (app.community.services): searched by index.
Index("ix_users_display_name_lower", func.lower(User.display_name))
