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


def make_idea(author: User | None = None, **overrides):
    """An open idea (or as overridden), as if submitted and published."""
    from app.ideas.models import OPEN, Idea
    from app.ideas.services import hot_score
    from app.text import render_markdown

    n = next(_serial)
    author = author or make_member()
    now = overrides.pop("created_at", None) or utcnow()
    body = overrides.pop("body", f"Idea number {n}, described in a few words.")
    fields = {
        "title": f"Idea number {n}",
        "body": body,
        "body_html": render_markdown(body),
        "status": OPEN,
        "author_id": author.id,
        "created_at": now,
        "updated_at": now,
        "status_changed_at": now,
        "hot_score": hot_score(overrides.get("vote_count", 0), now),
    }
    fields.update(overrides)
    idea = Idea(**fields)
    db.session.add(idea)
    db.session.commit()
    return idea


def make_category(name: str | None = None):
    from app.ideas.models import Category

    n = next(_serial)
    name = name or f"Category {n}"
    category = Category(name=name, slug=name.lower().replace(" ", "-"), position=n)
    db.session.add(category)
    db.session.commit()
    return category


def make_challenge(*, open_now: bool = True, **overrides):
    from datetime import timedelta

    from app.ideas.models import Challenge

    now = utcnow()
    fields = {
        "title": f"Challenge {next(_serial)}",
        "brief": "Tell us what you would make.",
        "brief_html": "<p>Tell us what you would make.</p>",
        "opens_at": now - timedelta(days=7),
        "closes_at": now + timedelta(days=7) if open_now else now - timedelta(hours=1),
    }
    fields.update(overrides)
    challenge = Challenge(**fields)
    db.session.add(challenge)
    db.session.commit()
    return challenge
