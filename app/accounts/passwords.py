"""Argon2id password hashing, with the cost read from the app's config."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

# Verified against when an email is unknown, so a login takes as long either way.
_DUMMY_PASSWORD = "cocreate-timing-equaliser"


def _hasher() -> tuple[PasswordHasher, str]:
    """The app's hasher and a hash of a throwaway password made with it."""
    cached = current_app.extensions.get("cocreate_password_hasher")
    if cached is None:
        config = current_app.config
        hasher = PasswordHasher(
            time_cost=config["PASSWORD_HASH_TIME_COST"],
            memory_cost=config["PASSWORD_HASH_MEMORY_COST"],
            parallelism=config["PASSWORD_HASH_PARALLELISM"],
        )
        cached = (hasher, hasher.hash(_DUMMY_PASSWORD))
        current_app.extensions["cocreate_password_hasher"] = cached
    return cached


def hash_password(password: str) -> str:
    return _hasher()[0].hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    hasher, dummy_hash = _hasher()
    try:
        return hasher.verify(password_hash or dummy_hash, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher()[0].check_needs_rehash(password_hash)
