"""JSON views for points, the leaderboard, the reward catalog and redemptions."""

from __future__ import annotations

from datetime import UTC

from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import fields, validate

from app.accounts import services as accounts
from app.accounts.permissions import is_admin, permission_required, signed_in
from app.api.errors import ErrorSchema
from app.api.schemas import Integer, OrderedSchema
from app.rewards import services
from app.web import external_url

blp = Blueprint(
    "rewards_api",
    __name__,
    url_prefix="/api/v1",
    description="Points, the leaderboard, the reward catalog and redemptions.",
)


class PointsSchema(OrderedSchema):
    balance = Integer(required=True)
    lifetime = Integer(required=True)
    level = Integer(required=True)
    to_next_level = Integer(required=True, allow_none=True)


class EntrySchema(OrderedSchema):
    id = Integer(required=True)
    amount = Integer(required=True)
    reason = fields.String(required=True)
    note = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class RankedPersonSchema(OrderedSchema):
    id = Integer(required=True)
    display_name = fields.String(required=True)


class StandingSchema(OrderedSchema):
    rank = Integer(required=True)
    user = fields.Nested(RankedPersonSchema, required=True)
    points = Integer(required=True)


class LeaderboardSchema(OrderedSchema):
    period = fields.String(required=True)
    challenge = Integer(required=True, allow_none=True)
    items = fields.List(fields.Nested(StandingSchema), required=True)
    me = fields.Nested(StandingSchema, required=True, allow_none=True)


class LeaderboardArgs(OrderedSchema):
    period = fields.String(load_default="week", validate=validate.OneOf(services.PERIODS))
    challenge = Integer(
        load_default=None,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "Only points earned in this challenge."},
    )


class RewardSchema(OrderedSchema):
    id = Integer(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    cost = Integer(required=True)
    stock = Integer(required=True, allow_none=True, metadata={"description": "null: unlimited"})
    per_person_limit = Integer(required=True, allow_none=True)
    active_from = fields.DateTime(required=True, allow_none=True)
    active_until = fields.DateTime(required=True, allow_none=True)
    image_url = fields.Method("_image_url", required=True, allow_none=True)

    def _image_url(self, item) -> str | None:
        return external_url("ideas.media", path=item.image_path) if item.image_path else None


def _cost():
    return validate.Range(min=1, max=services.MAX_COST)


def _stock():
    return validate.Range(min=0, max=services.MAX_STOCK)


def _limit():
    return validate.Range(min=1, max=services.MAX_PER_PERSON)


class RewardCreateSchema(OrderedSchema):
    name = fields.String(required=True, validate=validate.Length(min=2, max=120))
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    cost = Integer(required=True, validate=_cost())
    stock = Integer(load_default=None, allow_none=True, validate=_stock())
    per_person_limit = Integer(load_default=None, allow_none=True, validate=_limit())
    active_from = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=UTC)
    active_until = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=UTC)


class RewardPatchSchema(OrderedSchema):
    """Only the fields sent change; null stock means unlimited, null limit means none."""

    name = fields.String(validate=validate.Length(min=2, max=120))
    description = fields.String(validate=validate.Length(max=2000))
    cost = Integer(validate=_cost())
    stock = Integer(allow_none=True, validate=_stock())
    per_person_limit = Integer(allow_none=True, validate=_limit())
    active_from = fields.AwareDateTime(allow_none=True, default_timezone=UTC)
    active_until = fields.AwareDateTime(allow_none=True, default_timezone=UTC)


class RedemptionSchema(OrderedSchema):
    id = Integer(required=True)
    item_id = Integer(required=True)
    cost = Integer(required=True)
    status = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class GrantSchema(OrderedSchema):
    amount = Integer(required=True, validate=validate.Range(min=-1_000_000, max=1_000_000))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))


def _standing(row) -> dict | None:
    if row is None:
        return None
    return {
        "rank": row.rank,
        "user": {"id": row.user_id, "display_name": row.display_name},
        "points": row.points,
    }


@blp.get("/me/points")
@blp.response(200, PointsSchema)
@permission_required(signed_in)
def my_points():
    """Your balance, lifetime points and level."""
    return services.standing(current_user)


@blp.get("/me/ledger")
@blp.response(200, EntrySchema(many=True))
@permission_required(signed_in)
def my_ledger():
    """Your last 100 ledger entries, newest first, each with its reason."""
    return services.ledger_of(current_user)


@blp.get("/me/redemptions")
@blp.response(200, RedemptionSchema(many=True))
@permission_required(signed_in)
def my_redemptions():
    """Rewards you redeemed, newest first."""
    return services.redemptions_of(current_user)


@blp.get("/leaderboard")
@blp.arguments(LeaderboardArgs(), location="query")
@blp.response(200, LeaderboardSchema)
@blp.doc(security=[{}, {"bearerAuth": []}, {"sessionCookie": []}])
def leaderboard(args: dict):
    """Who earned most this week, this month or ever, overall or in one challenge; with your
    own place when signed in."""
    top, mine = services.leaderboard(
        period=args["period"], viewer=current_user, challenge_id=args["challenge"]
    )
    return {
        "period": args["period"],
        "challenge": args["challenge"],
        "items": [_standing(s) for s in top],
        "me": _standing(mine),
    }


@blp.get("/rewards")
@blp.response(200, RewardSchema(many=True))
@blp.doc(security=[{}, {"bearerAuth": []}, {"sessionCookie": []}])
def rewards():
    """The reward catalog."""
    return services.catalog()


@blp.post("/rewards")
@blp.arguments(RewardCreateSchema())
@blp.response(201, RewardSchema)
@permission_required(signed_in)
def create_reward(data: dict):
    """Add a reward to the catalog (staff)."""
    return services.create_item(current_user, **data)


@blp.patch("/rewards/<int:item_id>")
@blp.arguments(RewardPatchSchema())
@blp.response(200, RewardSchema)
@permission_required(signed_in)
def update_reward(data: dict, item_id: int):
    """Change a reward (staff): name, description, cost, stock, per-person limit, window."""
    return services.update_item(current_user, services.get_item(item_id), **data)


@blp.post("/rewards/<int:item_id>/redemptions")
@blp.response(201, RedemptionSchema)
@blp.alt_response(
    409, schema=ErrorSchema, description="Not enough points, out of stock, or the limit reached."
)
@permission_required(signed_in)
def redeem(item_id: int):
    """Spend points on a reward."""
    return services.redeem(current_user, item_id)


class GrantHeaders(OrderedSchema):
    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        load_default=None,
        validate=validate.Length(min=8, max=80),
        metadata={"description": "Send the same key again and the grant is made once."},
    )


@blp.post("/users/<int:user_id>/points")
@blp.arguments(GrantSchema())
@blp.arguments(GrantHeaders(), location="headers", as_kwargs=True)
@blp.response(201, EntrySchema)
@permission_required(is_admin)
def grant_points(data: dict, user_id: int, idempotency_key: str | None = None):
    """Grant (or, negative, deduct) points with a reason the person sees (admins). With an
    Idempotency-Key header, a retried request grants once and answers with the first grant."""
    return services.grant(
        accounts.get_user(user_id),
        data["amount"],
        reason=data["reason"],
        actor=current_user,
        request_key=idempotency_key,
    )
