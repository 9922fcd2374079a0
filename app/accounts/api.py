"""JSON views for accounts: sign-in tokens, registration, the caller's profile, roles."""

from __future__ import annotations

from datetime import UTC

from flask import current_app
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import fields, validate

from app.accounts import services
from app.accounts.models import ROLES
from app.accounts.permissions import (
    can_manage_roles,
    can_suspend_people,
    permission_required,
    signed_in,
)
from app.api.errors import ErrorSchema
from app.api.schemas import Integer, OrderedSchema
from app.errors import Unauthorized
from app.extensions import limiter

blp = Blueprint(
    "accounts_api", __name__, url_prefix="/api/v1", description="Accounts, tokens and roles."
)


class TokenRequestSchema(OrderedSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    name = fields.String(load_default="API token", validate=validate.Length(max=80))


class TokenSchema(OrderedSchema):
    id = Integer(required=True)
    name = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(allow_none=True, required=True)


class TokenCreatedSchema(TokenSchema):
    token = fields.String(
        required=True, metadata={"description": "Shown once. Send as `Authorization: Bearer`."}
    )


class RegisterSchema(OrderedSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=10, max=1024))
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=80))


class MeSchema(OrderedSchema):
    id = Integer(required=True)
    email = fields.String(required=True)
    display_name = fields.String(required=True)
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True)
    email_verified = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class MeUpdateSchema(OrderedSchema):
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=80))


class UserRolesSchema(OrderedSchema):
    id = Integer(required=True)
    display_name = fields.String(required=True)
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True)


def _me(user) -> dict:
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "roles": sorted(user.roles, key=ROLES.index),
        "email_verified": user.is_verified,
        "created_at": user.created_at,
    }


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _signup_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT"]


@blp.post("/tokens")
@blp.arguments(TokenRequestSchema())
@blp.response(201, TokenCreatedSchema)
@blp.alt_response(401, schema=ErrorSchema, description="Wrong email or password.")
@blp.alt_response(429, schema=ErrorSchema, description="Too many attempts from this address.")
@blp.doc(security=[])
@limiter.limit(_login_limit)
def create_token(data: dict):
    """Exchange an email and password for an API token."""
    user = services.authenticate(data["email"], data["password"])
    if user is None:
        raise Unauthorized(
            _("That email and password do not match an account."), code="invalid_credentials"
        )
    token, raw = services.create_api_token(user, name=data["name"])
    return {
        "id": token.id,
        "name": token.name,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "token": raw,
    }


@blp.get("/tokens")
@blp.response(200, TokenSchema(many=True))
@permission_required(signed_in)
def list_tokens():
    """The caller's API tokens (their values are never shown again)."""
    return services.list_api_tokens(current_user)


@blp.delete("/tokens/<int:token_id>")
@blp.response(204)
@permission_required(signed_in)
def revoke_token(token_id: int):
    """Revoke one of the caller's tokens."""
    services.revoke_api_token(current_user, token_id)


@blp.post("/users")
@blp.arguments(RegisterSchema())
@blp.response(201, MeSchema)
@blp.alt_response(409, schema=ErrorSchema, description="The email is already registered.")
@blp.alt_response(429, schema=ErrorSchema, description="Too many sign-ups from this address.")
@blp.doc(security=[])
@limiter.limit(_signup_limit)
def register(data: dict):
    """Register a customer account; a confirmation link is mailed."""
    user = services.register_user(
        email=data["email"], display_name=data["display_name"], password=data["password"]
    )
    return _me(user)


@blp.get("/me")
@blp.response(200, MeSchema)
@permission_required(signed_in)
def me():
    """The caller's profile and roles."""
    return _me(current_user)


@blp.patch("/me")
@blp.arguments(MeUpdateSchema())
@blp.response(200, MeSchema)
@permission_required(signed_in)
def update_me(data: dict):
    """Change the caller's display name."""
    services.update_profile(current_user, display_name=data["display_name"])
    return _me(current_user)


def _roles_of(user) -> dict:
    return {
        "id": user.id,
        "display_name": user.display_name,
        "roles": sorted(user.roles, key=ROLES.index),
    }


@blp.put("/users/<int:user_id>/roles/<any(moderator, product, admin):role>")
@blp.response(200, UserRolesSchema)
@permission_required(can_manage_roles)
def grant_role(user_id: int, role: str):
    """Grant a role (admins only). Granting a role someone has is a no-op."""
    user = services.get_user(user_id)
    services.grant_role(user, role, actor=current_user)
    return _roles_of(user)


@blp.delete("/users/<int:user_id>/roles/<any(moderator, product, admin):role>")
@blp.response(200, UserRolesSchema)
@blp.alt_response(409, schema=ErrorSchema, description="The last admin cannot be removed.")
@permission_required(can_manage_roles)
def revoke_role(user_id: int, role: str):
    """Revoke a role (admins only)."""
    user = services.get_user(user_id)
    services.revoke_role(user, role, actor=current_user)
    return _roles_of(user)


class SuspendSchema(OrderedSchema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=services.SUSPENSION_REASON_MAX),
        metadata={"description": "Why, shown to the person."},
    )
    until = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        default_timezone=UTC,
        metadata={"description": "When it ends (UTC when no offset is given); none: until lifted."},
    )


class SuspensionSchema(OrderedSchema):
    id = Integer(required=True)
    display_name = fields.String(required=True)
    suspended = fields.Boolean(required=True)
    suspended_at = fields.DateTime(allow_none=True, required=True)
    suspended_until = fields.DateTime(
        allow_none=True, required=True, metadata={"description": "None: until lifted."}
    )
    reason = fields.String(allow_none=True, required=True)


def _suspension_of(user) -> dict:
    suspended = user.is_suspended
    return {
        "id": user.id,
        "display_name": user.display_name,
        "suspended": suspended,
        "suspended_at": user.suspended_at if suspended else None,
        "suspended_until": user.suspended_until if suspended else None,
        "reason": user.suspension_reason if suspended else None,
    }


@blp.post("/users/<int:user_id>/suspension")
@blp.arguments(SuspendSchema())
@blp.response(200, SuspensionSchema)
@permission_required(can_suspend_people)
def suspend(data: dict, user_id: int):
    """Suspend a person (moderators and admins; only admins suspend staff). They can still
    sign in and read, but not post, vote, comment or redeem, and they earn no points.
    Suspending again changes the reason and the end."""
    user = services.get_user(user_id)
    services.suspend(user, actor=current_user, reason=data["reason"], until=data["until"])
    return _suspension_of(user)


@blp.delete("/users/<int:user_id>/suspension")
@blp.response(200, SuspensionSchema)
@permission_required(can_suspend_people)
def unsuspend(user_id: int):
    """Lift a suspension (a no-op when there is none)."""
    user = services.get_user(user_id)
    services.unsuspend(user, actor=current_user)
    return _suspension_of(user)
