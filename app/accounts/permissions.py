"""Who may do what: one place, used by pages, the API and services alike."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, current_app, request
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.models import ADMIN, MODERATOR, PRODUCT
from app.errors import Forbidden

Predicate = Callable[[Any], bool]


def has_role(user, role: str) -> bool:
    return bool(user and user.is_authenticated and role in user.roles)


def is_staff(user) -> bool:
    return any(has_role(user, role) for role in (MODERATOR, PRODUCT, ADMIN))


def is_admin(user) -> bool:
    return has_role(user, ADMIN)


def can_moderate(user) -> bool:
    """Moderators (and admins) curate submissions: approve, decline, merge."""
    return has_role(user, MODERATOR) or is_admin(user)


def is_product_team(user) -> bool:
    """The product team (and admins) review, shortlist and adopt ideas and run challenges."""
    return has_role(user, PRODUCT) or is_admin(user)


def can_manage_categories(user) -> bool:
    return is_admin(user)


def can_manage_roles(user) -> bool:
    return is_admin(user)


def can_suspend_people(user) -> bool:
    """Moderators and admins suspend people who abuse the community (see can_suspend)."""
    return can_moderate(user)


def can_suspend(actor, target) -> bool:
    """Moderators suspend customers; only admins suspend staff; nobody suspends themselves."""
    if not can_suspend_people(actor) or actor.id == target.id:
        return False
    return is_admin(actor) or not is_staff(target)


def can_read_outbox(user) -> bool:
    return is_admin(user)


def ensure(allowed: bool, message: str | None = None) -> None:
    """Raise Forbidden unless ``allowed``; services call this before acting."""
    if not allowed:
        raise Forbidden(message or _("You do not have permission to do that."))


def permission_required(predicate: Predicate) -> Callable:
    """Let the view run only when ``predicate(current_user)`` holds.

    Anonymous visitors are sent to the login page (API clients get 401); signed-in people
    without the permission get 403.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                if request.path.startswith("/api/"):
                    abort(401)
                return current_app.login_manager.unauthorized()
            if not predicate(current_user):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def signed_in(user) -> bool:
    return bool(user and user.is_authenticated)


# What a suspended person may still do: manage their own account and what reaches them. Every
# other request that changes something is refused, so a new action is refused until it is
# listed here. Left out on purpose: the display name and the public profile (everyone reads
# them, like comments) and following (HTML toggles both ways; the API's unfollow is listed).
WHILE_SUSPENDED = frozenset(
    {
        "accounts.login",
        "accounts.logout",
        "accounts.register",
        "accounts.forgot_password",
        "accounts.reset_password",
        "accounts.change_password",
        "accounts.resend_verification",
        "accounts.create_token",
        "accounts.revoke_token",
        "accounts_api.create_token",
        "accounts_api.revoke_token",
        "accounts_api.register",
        "community.notification_settings",
        "community.mark_read",
        "community_api.mark_read",
        "community_api.unfollow",
        "rewards.cancel",
    }
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def refuse_contributions_while_suspended() -> None:
    """Before every request that changes something: a suspended person is refused, with why
    and until when (a page or ``{"error": {"code": "suspended"}}`` with 403)."""
    if request.method in SAFE_METHODS or request.endpoint in WHILE_SUSPENDED:
        return
    user = current_user
    if not user.is_authenticated or not user.is_suspended:
        return
    raise Forbidden(suspension_message(user), code="suspended")


def suspension_message(user) -> str:
    """What a suspended person reads on every page and in every refusal: why, and until when."""
    from flask_babel import format_datetime

    if user.suspended_until is None:
        return _(
            "Your account is suspended: %(reason)s. You can read, but not post, vote or "
            "comment until a moderator lifts it.",
            reason=user.suspension_reason,
        )
    return _(
        "Your account is suspended until %(until)s: %(reason)s. You can read, but not post, "
        "vote or comment until then.",
        until=format_datetime(user.suspended_until, "medium"),
        reason=user.suspension_reason,
    )
