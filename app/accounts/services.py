"""Account rules: registration, sign-in, passwords, e-mail verification, roles and API tokens.

These are the only writers of account data. Public functions commit; pages, the API and the CLI
share them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import joinedload, selectinload

from app.accounts import events
from app.accounts.models import ADMIN, CUSTOMER, GRANTED_ROLES, ROLES, ApiToken, User, UserRole
from app.accounts.passwords import hash_password, needs_rehash, verify_password
from app.accounts.permissions import can_manage_roles, can_suspend, can_suspend_people, ensure
from app.database import release_write_lock, utcnow, write_transaction
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.mail.services import queue_mail
from app.web import external_url

DISPLAY_NAME_MAX = 80
PASSWORD_MAX = 1024
TOKEN_PREFIX = "cc_"


# --- input rules shared by forms and the API ------------------------------------------------


def normalize_email(email: str) -> str:
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(
            _("Enter a valid email address."), fields={"email": [str(exc)]}
        ) from exc
    return result.normalized.lower()


def _check_password(password: str, field: str = "password") -> None:
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise ValidationFailed(
            _("Choose a password of at least %(n)d characters.", n=minimum),
            fields={field: [_("At least %(n)d characters.", n=minimum)]},
        )
    if len(password) > PASSWORD_MAX:
        raise ValidationFailed(
            _("That password is too long."), fields={field: [_("At most 1024 characters.")]}
        )


def _clean_display_name(display_name: str) -> str:
    name = " ".join(display_name.split())
    if not name or len(name) > DISPLAY_NAME_MAX:
        raise ValidationFailed(
            _("Enter a display name of 1 to 80 characters."),
            fields={"display_name": [_("Between 1 and 80 characters.")]},
        )
    return name


# --- registration and sign-in ---------------------------------------------------------------


def get_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def register_user(*, email: str, display_name: str, password: str) -> User:
    """Create a customer account and mail them a verification link (sent after commit)."""
    email = normalize_email(email)
    name = _clean_display_name(display_name)
    _check_password(password)
    release_write_lock()
    password_hash = hash_password(password)
    if get_user_by_email(email) is not None:
        raise Conflict(
            _("An account with this email already exists."),
            code="email_taken",
            fields={"email": [_("Already registered. Log in or reset your password.")]},
        )
    user = User(email=email, display_name=name, password_hash=password_hash)
    db.session.add(user)
    db.session.flush()
    _queue_verification_mail(user)
    events.user_registered.send(user)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user whose credentials these are, or None; the same work is done either way."""
    try:
        email = normalize_email(email)
    except ValidationFailed:
        email = ""
    user = get_user_by_email(email) if email else None
    password_hash = user.password_hash if user else None
    release_write_lock()
    if not verify_password(password_hash, password):
        return None
    return user


def record_login(user: User, *, password: str | None = None) -> None:
    """Note the sign-in and upgrade the stored hash when the configured cost has changed."""
    user.last_login_at = utcnow()
    if password is not None and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.session.commit()


# Loader options other modules add to the signed-in person's one query per request (rewards
# joins the balance the navigation shows), so accounts never imports them.
_session_user_options: dict[str, object] = {}


def load_with_session_user(name: str, option) -> None:
    """Load more with the signed-in person, in the same query: ``option`` is a SQLAlchemy
    loader option such as ``joinedload(User.something)``, registered once under ``name``."""
    _session_user_options[name] = option


def load_user_from_session(login_id: str) -> User | None:
    user_id, _sep, epoch = login_id.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None
    user = db.session.get(
        User,
        int(user_id),
        options=[joinedload(User.granted_roles), *_session_user_options.values()],
    )
    if user is None or user.auth_epoch != int(epoch):
        return None
    return user


def update_profile(user: User, *, display_name: str) -> User:
    user.display_name = _clean_display_name(display_name)
    db.session.commit()
    return user


# --- passwords ------------------------------------------------------------------------------


def _set_password(user: User, password_hash: str, *, reason: str) -> None:
    user.password_hash = password_hash
    # Every session and remember-me cookie carries the old epoch, and every API token is gone.
    user.auth_epoch = User.auth_epoch + 1
    db.session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    db.session.flush()
    db.session.refresh(user, ["auth_epoch"])
    events.password_changed.send(user, reason=reason)


def change_password(user: User, *, current_password: str, new_password: str) -> None:
    """Set a new password; other sessions and all API tokens stop working."""
    current_hash = user.password_hash
    release_write_lock()
    if not verify_password(current_hash, current_password):
        raise ValidationFailed(
            _("Your current password is not correct."),
            fields={"current_password": [_("Not correct.")]},
        )
    _check_password(new_password, "new_password")
    _set_password(user, hash_password(new_password), reason="change")
    db.session.commit()


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"cocreate.{purpose}")


def _password_fingerprint(user: User) -> str:
    # Changes whenever the password does, so a reset link works once.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def request_password_reset(email: str) -> None:
    """Mail a reset link if the account exists; callers answer the same either way."""
    try:
        user = get_user_by_email(normalize_email(email))
    except ValidationFailed:
        return
    if user is None:
        return
    token = _serializer("reset").dumps({"uid": user.id, "fp": _password_fingerprint(user)})
    link = external_url("accounts.reset_password", token=token)
    minutes = int(current_app.config["RESET_TOKEN_MAX_AGE"].total_seconds() // 60)
    queue_mail(
        to=user.email,
        subject=_("Reset your Cocreate password"),
        body=_(
            "Hello %(name)s,\n\nSomeone asked to reset the password of your Cocreate account. "
            "If it was you, open this link within %(minutes)d minutes:\n\n%(link)s\n\n"
            "If it was not you, ignore this message; your password stays as it is.",
            name=user.display_name,
            minutes=minutes,
            link=link,
        ),
        kind="password_reset",
    )
    db.session.commit()


def user_for_reset_token(token: str) -> User:
    max_age = current_app.config["RESET_TOKEN_MAX_AGE"].total_seconds()
    invalid = ValidationFailed(
        _("This reset link is invalid or has expired. Ask for a new one."), code="invalid_token"
    )
    try:
        data = _serializer("reset").loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired) as exc:
        raise invalid from exc
    user = db.session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or not hmac.compare_digest(data.get("fp", ""), _password_fingerprint(user)):
        raise invalid
    return user


def reset_password(token: str, *, new_password: str) -> User:
    _check_password(new_password)
    release_write_lock()
    password_hash = hash_password(new_password)
    user = user_for_reset_token(token)
    _set_password(user, password_hash, reason="reset")
    if user.email_verified_at is None:  # they just proved they read this inbox
        user.email_verified_at = utcnow()
    db.session.commit()
    return user


# --- e-mail verification --------------------------------------------------------------------


def _queue_verification_mail(user: User) -> None:
    token = _serializer("verify").dumps({"uid": user.id, "email": user.email})
    link = external_url("accounts.verify_email", token=token)
    queue_mail(
        to=user.email,
        subject=_("Confirm your email address for Cocreate"),
        body=_(
            "Welcome to Cocreate, %(name)s!\n\nConfirm your email address by opening this "
            "link:\n\n%(link)s\n\nIf you did not sign up, ignore this message.",
            name=user.display_name,
            link=link,
        ),
        kind="verify_email",
    )


def resend_verification(user: User) -> None:
    if user.is_verified:
        return
    _queue_verification_mail(user)
    db.session.commit()


def verify_email(token: str) -> User:
    max_age = current_app.config["EMAIL_TOKEN_MAX_AGE"].total_seconds()
    invalid = ValidationFailed(
        _("This confirmation link is invalid or has expired."), code="invalid_token"
    )
    try:
        data = _serializer("verify").loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired) as exc:
        raise invalid from exc
    user = db.session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or user.email != data.get("email"):
        raise invalid
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        db.session.commit()
    return user


# --- roles ----------------------------------------------------------------------------------


def _check_role(role: str) -> None:
    if role not in GRANTED_ROLES:
        raise ValidationFailed(
            _("Unknown role %(role)s.", role=role),
            code="unknown_role",
            fields={"role": [_("One of: %(roles)s.", roles=", ".join(GRANTED_ROLES))]},
        )


def grant_role(user: User, role: str, *, actor: User | None) -> None:
    """Give ``user`` the role; a no-op if they have it. ``actor=None`` is the CLI."""
    if actor is not None:
        ensure(can_manage_roles(actor))
    _check_role(role)
    if role in user.roles:
        return
    user.granted_roles.append(UserRole(role=role, granted_by_id=actor.id if actor else None))
    db.session.flush()
    events.role_granted.send(user, role=role, actor=actor)
    db.session.commit()


def revoke_role(user: User, role: str, *, actor: User | None) -> None:
    """Take the role away; the last admin cannot be removed, so the site is never unmanaged."""
    if actor is not None:
        ensure(can_manage_roles(actor))
    _check_role(role)
    grant = next((g for g in user.granted_roles if g.role == role), None)
    if grant is None:
        return
    if role == ADMIN and _admin_count() <= 1:
        raise Conflict(
            _("%(name)s is the last admin; make someone else admin first.", name=user.display_name),
            code="last_admin",
        )
    user.granted_roles.remove(grant)
    db.session.flush()
    events.role_revoked.send(user, role=role, actor=actor)
    db.session.commit()


def _admin_count() -> int:
    # The admin grants stay locked until commit (PostgreSQL), so two admins revoking each other
    # at once cannot both see "another admin is left".
    return len(
        db.session.scalars(
            select(UserRole.user_id).where(UserRole.role == ADMIN).with_for_update()
        ).all()
    )


def ensure_user(*, email: str, password: str, role: str, display_name: str | None) -> User:
    """Create the account, or update it: afterwards it has exactly ``role`` (CLI, seeding)."""
    if role not in ROLES:
        _check_role(role)
    email = normalize_email(email)
    user = get_user_by_email(email)
    if user is None:
        _check_password(password)
        user = User(
            email=email,
            display_name=_clean_display_name(display_name or email.split("@")[0]),
            password_hash=hash_password(password),
            email_verified_at=utcnow(),
        )
        db.session.add(user)
        db.session.flush()
        events.user_registered.send(user)
    elif display_name:
        user.display_name = _clean_display_name(display_name)
    wanted = set() if role == CUSTOMER else {role}
    for grant in list(user.granted_roles):
        if grant.role not in wanted:
            user.granted_roles.remove(grant)
    for missing in wanted - user.roles:
        user.granted_roles.append(UserRole(role=missing))
    db.session.commit()
    return user


# --- suspension -----------------------------------------------------------------------------

SUSPENSION_REASON_MAX = 500
audit = logging.getLogger("cocreate.audit")


def suspend(user: User, *, actor: User, reason: str, until: datetime | None = None) -> User:
    """Suspend ``user`` until ``until`` (None: until lifted), saying why; suspending again
    changes the reason and the end. The person can still sign in, read and manage their own
    account; every request that changes something else is refused
    (permissions.refuse_contributions_while_suspended) and rules pay them nothing."""
    if not can_suspend(actor, user):
        if not can_suspend_people(actor):
            ensure(False)
        raise Forbidden(
            _("You cannot suspend yourself.")
            if actor.id == user.id
            else _("Only admins can suspend staff.")
        )
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = [_("Say why, so the person knows what to change.")]
    elif len(reason) > SUSPENSION_REASON_MAX:
        errors["reason"] = [
            _("At most %(max)d characters.", max=SUSPENSION_REASON_MAX),
        ]
    now = utcnow()
    if until is not None:
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        if until <= now:
            errors["until"] = [_("Pick a moment in the future, or none to suspend until lifted.")]
        elif until.year > 9000:
            errors["until"] = [_("Pick a date before the year 9000.")]
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], fields=errors)
    user.suspended_at = now
    user.suspended_until = until
    user.suspension_reason = reason
    user.suspended_by_id = actor.id
    db.session.flush()
    events.user_suspended.send(user, actor=actor, reason=reason, until=until)
    db.session.commit()
    audit.info(
        "user suspended",
        extra={
            "actor": actor.id,
            "user": user.id,
            "until": until.isoformat() if until else None,
            "reason": reason,
        },
    )
    return user


def unsuspend(user: User, *, actor: User) -> User:
    """Lift the suspension: a no-op when there is none, or when it has run out already (the
    person is not told "welcome back" days after it ended)."""
    ensure(can_suspend(actor, user), _("You cannot lift this suspension."))
    if not user.is_suspended:
        return user
    user.suspended_at = user.suspended_until = user.suspension_reason = None
    user.suspended_by_id = None
    db.session.flush()
    events.user_unsuspended.send(user, actor=actor)
    db.session.commit()
    audit.info("user unsuspended", extra={"actor": actor.id, "user": user.id})
    return user


PEOPLE_PER_PAGE = 50


def search_people(query: str, *, page: int = 1):
    """People whose email or name contains ``query``, with their roles, 50 a page."""
    stmt = select(User).options(selectinload(User.granted_roles)).order_by(User.id)
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(or_(User.email.like(like), User.display_name.ilike(like)))
    page = min(max(page or 1, 1), 10_000)
    return db.paginate(stmt, page=page, per_page=PEOPLE_PER_PAGE, error_out=False)


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such person."))
    return user


# --- API tokens -----------------------------------------------------------------------------


def _token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_token(user: User, *, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user``; the raw value is returned once and only its hash is kept."""
    name = " ".join((name or "").split()) or _("API token")
    if len(name) > 80:
        raise ValidationFailed(
            _("Name the token in at most 80 characters."),
            fields={"name": [_("At most 80 characters.")]},
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_token_digest(raw))
    db.session.add(token)
    db.session.commit()
    return token, raw


def list_api_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )


def revoke_api_token(user: User, token_id: int) -> None:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(_("No such token."))
    db.session.delete(token)
    db.session.commit()


TOKEN_USE_RESOLUTION = timedelta(minutes=5)


class TokenUse(NamedTuple):
    user: User
    token_id: int
    needs_recording: bool


def user_for_api_token(raw: str) -> TokenUse | None:
    """The token's owner, or None; ``needs_recording`` when its last use is over 5 minutes old."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    row = (
        db.session.execute(
            select(User, ApiToken.id, ApiToken.last_used_at)
            .join(ApiToken, ApiToken.user_id == User.id)
            .options(joinedload(User.granted_roles))
            .where(ApiToken.token_hash == _token_digest(raw))
        )
        .unique()
        .first()
    )
    if row is None:
        return None
    user, token_id, last_used_at = row
    stale = last_used_at is None or utcnow() - last_used_at > TOKEN_USE_RESOLUTION
    return TokenUse(user, token_id, stale)


def record_api_token_use(token_id: int) -> None:
    """Note that the token was used now, in a transaction of its own.

    Call it once the request's own session is closed: on SQLite a second writer would wait for
    the request's write lock.
    """
    with write_transaction(), db.engine.begin() as conn:
        conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow()))
