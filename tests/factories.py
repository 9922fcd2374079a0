"""Plain factories: each adds a row, flushes and commits so requests can see it."""

from __future__ import annotations

from itertools import count

from app.accounts.models import User, UserRole
from app.accounts.passwords import hash_password
from app.database import utcnow
from app.extensions import db

PASSWORD = "correct horse battery"
_serial = count(1)


def make_member(*, roles: tuple[str, ...] = (), verified: bool = True, **overrides) -> User:
    n = next(_serial)
    fields = {
        "email": f"member{n}@example.com",
        "display_name": f"Member {n}",
        "password_hash": hash_password(overrides.pop("password", PASSWORD)),
        "email_verified_at": utcnow() if verified else None,
    }
    fields.update(overrides)
    user = User(**fields)
    user.granted_roles = [UserRole(role=role) for role in roles if role != "customer"]
    db.session.add(user)
    db.session.commit()
    return user
