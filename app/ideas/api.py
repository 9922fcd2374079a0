"""JSON views for ideas, challenges and categories."""

from __future__ import annotations

from flask import Response, jsonify
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import fields, validate

from app.accounts.permissions import permission_required, signed_in
from app.api.errors import ErrorSchema
from app.api.schemas import Integer, OrderedSchema
from app.database import utcnow
from app.errors import NotFound
from app.ideas import services
from app.ideas.models import STATUSES, Challenge
from app.ideas.services import SORTS
from app.links import idea_links

blp = Blueprint(
    "ideas_api",
    __name__,
    url_prefix="/api/v1",
    description="Ideas, support, the status workflow, challenges and categories.",
)


class CategorySchema(OrderedSchema):
    id = Integer(required=True)
    name = fields.String(required=True)
    slug = fields.String(required=True)
    description = fields.String(required=True)


class AuthorSchema(OrderedSchema):
    id = Integer(required=True)
    display_name = fields.String(required=True)


class ImageSchema(OrderedSchema):
    url = fields.String(required=True)
    width = Integer(required=True)
    height = Integer(required=True)


class IdeaSchema(OrderedSchema):
    id = Integer(required=True)
    title = fields.String(required=True)
    body = fields.String(required=True, metadata={"description": "Markdown source."})
    body_html = fields.String(required=True, metadata={"description": "Sanitised HTML."})
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    vote_count = Integer(required=True)
    comment_count = Integer(required=True)
    category = fields.Nested(CategorySchema, allow_none=True, required=True)
    tags = fields.List(fields.String(), required=True)
    author = fields.Nested(AuthorSchema, required=True)
    challenge_id = Integer(allow_none=True, required=True)
    merged_into_id = Integer(allow_none=True, required=True)
    decline_reason = fields.String(allow_none=True, required=True)
    official_response_html = fields.String(allow_none=True, required=True)
    images = fields.List(fields.Nested(ImageSchema), required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    voted_by_me = fields.Boolean(required=True)
    url = fields.String(required=True, metadata={"description": "The idea's page."})


class IdeaPageSchema(OrderedSchema):
    items = fields.List(fields.Nested(IdeaSchema), required=True)
    page = Integer(required=True)
    per_page = Integer(required=True)
    has_next = fields.Boolean(required=True)
    sort = fields.String(required=True)


class IdeaListArgs(OrderedSchema):
    sort = fields.String(validate=validate.OneOf((*SORTS, "relevance")))
    q = fields.String(validate=validate.Length(max=200))
    category = fields.String(
        validate=validate.Length(max=60), metadata={"description": "A category slug."}
    )
    tag = fields.String(validate=validate.Length(max=30))
    status = fields.String(validate=validate.OneOf(STATUSES))
    challenge = Integer(validate=validate.Range(min=1, max=2**31 - 1))
    page = Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = Integer(load_default=30, validate=validate.Range(min=1, max=100))


_ID = validate.Range(min=1, max=2**31 - 1)


class IdeaCreateSchema(OrderedSchema):
    title = fields.String(required=True, validate=validate.Length(min=5, max=140))
    body = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    category_id = Integer(allow_none=True, validate=_ID)
    challenge_id = Integer(allow_none=True, validate=_ID)
    tags = fields.List(
        fields.String(validate=validate.Length(max=30)),
        validate=validate.Length(max=5),
        load_default=list,
    )


class IdeaUpdateSchema(OrderedSchema):
    title = fields.String(validate=validate.Length(min=5, max=140))
    body = fields.String(validate=validate.Length(min=1, max=20_000))
    category_id = Integer(allow_none=True, validate=_ID)
    tags = fields.List(
        fields.String(validate=validate.Length(max=30)), validate=validate.Length(max=5)
    )


class SupportSchema(OrderedSchema):
    vote_count = Integer(required=True)
    voted = fields.Boolean(required=True, metadata={"description": "Whether you support it."})


class StatusChangeSchema(OrderedSchema):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    note = fields.String(
        validate=validate.Length(max=5_000),
        allow_none=True,
        metadata={
            "description": "Shown in the idea's timeline. Required when declining or removing "
            "as spam (the author is told it)."
        },
    )
    official_response = fields.String(validate=validate.Length(max=20_000), allow_none=True)


class MergeSchema(OrderedSchema):
    into = Integer(required=True, validate=_ID)


class SimilarArgs(OrderedSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))


class IdeaListSchema(OrderedSchema):
    items = fields.List(fields.Nested(IdeaSchema), required=True)


class ChallengeSchema(OrderedSchema):
    id = Integer(required=True)
    title = fields.String(required=True)
    brief_html = fields.String(required=True)
    category = fields.Nested(CategorySchema, allow_none=True, required=True)
    opens_at = fields.DateTime(required=True)
    closes_at = fields.DateTime(required=True)
    phase = fields.String(required=True, validate=validate.OneOf(("upcoming", "open", "closed")))
    bonus_points = Integer(allow_none=True, required=True)
    idea_count = Integer(required=True)
    winner_idea_id = Integer(allow_none=True, required=True)


class ChallengeCreateSchema(OrderedSchema):
    title = fields.String(required=True, validate=validate.Length(min=5, max=140))
    brief = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    opens_at = fields.AwareDateTime(required=True, default_timezone=None)
    closes_at = fields.AwareDateTime(required=True, default_timezone=None)
    category_id = Integer(allow_none=True, validate=_ID)
    bonus_points = Integer(allow_none=True, validate=validate.Range(min=0, max=1_000_000))


def idea_json(idea, supported: set[int], links=None) -> dict:
    """An idea as IdeaSchema dumps it (the views answer it as is; the JSON provider writes its
    datetimes in ISO 8601, as the schema would). ``links``: ``idea_links()``, for a list."""
    links = links or idea_links()
    category, author = idea.category, idea.author
    return {
        "id": idea.id,
        "title": idea.title,
        "body": idea.body,
        "body_html": idea.body_html,
        "status": idea.status,
        "vote_count": idea.vote_count,
        "comment_count": idea.comment_count,
        "category": None
        if category is None
        else {
            "id": category.id,
            "name": category.name,
            "slug": category.slug,
            "description": category.description,
        },
        "tags": [tag.name for tag in idea.tags],
        "author": {"id": author.id, "display_name": author.display_name},
        "challenge_id": idea.challenge_id,
        "merged_into_id": idea.merged_into_id,
        "decline_reason": idea.decline_reason,
        "official_response_html": idea.official_response_html,
        "images": [
            {"url": links.media(image.path), "width": image.width, "height": image.height}
            for image in idea.images
        ],
        "created_at": idea.created_at,
        "updated_at": idea.updated_at,
        "voted_by_me": idea.id in supported,
        "url": links.page(idea.id),
    }


def _answer(data: dict, status: int = 200) -> Response:
    """JSON already shaped by its schema: flask-smorest passes a Response through undumped (the
    schema still documents it), which spares marshmallow's per-field work on every item."""
    response = jsonify(data)
    response.status_code = status
    return response


def _one(idea, status: int = 200) -> Response:
    return _answer(idea_json(idea, services.supported_ids(current_user, [idea.id])), status)


def _challenge_json(challenge: Challenge) -> dict:
    return {
        "id": challenge.id,
        "title": challenge.title,
        "brief_html": challenge.brief_html,
        "category": challenge.category,
        "opens_at": challenge.opens_at,
        "closes_at": challenge.closes_at,
        "phase": challenge.phase(utcnow()),
        "bonus_points": challenge.bonus_points,
        "idea_count": challenge.idea_count,
        "winner_idea_id": challenge.winner_idea_id,
    }


@blp.get("/ideas")
@blp.arguments(IdeaListArgs(), location="query")
@blp.response(200, IdeaPageSchema)
@blp.doc(security=[{}, {"bearerAuth": []}, {"sessionCookie": []}])
def list_ideas(args: dict):
    """Ideas, sorted and filtered; `q` searches titles and bodies (best matches first)."""
    page = services.list_ideas(viewer=current_user, **args)
    links = idea_links()
    return _answer(
        {
            "items": [idea_json(idea, page.supported, links) for idea in page.items],
            "page": page.page,
            "per_page": page.per_page,
            "has_next": page.has_next,
            "sort": page.sort,
        }
    )


@blp.post("/ideas")
@blp.arguments(IdeaCreateSchema())
@blp.response(201, IdeaSchema)
@permission_required(signed_in)
def create_idea(data: dict):
    """Share an idea (text only; attach images on the site)."""
    idea = services.submit_idea(current_user, **data)
    return _one(idea, 201)


@blp.get("/ideas/similar")
@blp.arguments(SimilarArgs(), location="query")
@blp.response(200, IdeaListSchema)
@blp.doc(security=[{}, {"bearerAuth": []}, {"sessionCookie": []}])
def similar(args: dict):
    """Up to five existing ideas that look like a title being written."""
    ideas = services.similar_ideas(args["title"], with_tags=True)
    supported = services.supported_ids(current_user, [i.id for i in ideas])
    return _answer({"items": [idea_json(idea, supported) for idea in ideas]})


@blp.get("/ideas/<int:idea_id>")
@blp.response(200, IdeaSchema)
@blp.doc(security=[{}, {"bearerAuth": []}, {"sessionCookie": []}])
def get_idea(idea_id: int):
    """One idea."""
    idea, supported = services.get_idea_to_show(idea_id, viewer=current_user)
    return _answer(idea_json(idea, {idea.id} if supported else set()))


@blp.patch("/ideas/<int:idea_id>")
@blp.arguments(IdeaUpdateSchema())
@blp.response(200, IdeaSchema)
@permission_required(signed_in)
def update_idea(data: dict, idea_id: int):
    """Edit an idea (its author, while it is pending or open; moderators at any time)."""
    idea = services.get_idea(idea_id, viewer=current_user)
    services.edit_idea(
        idea,
        editor=current_user,
        title=data.get("title", idea.title),
        body=data.get("body", idea.body),
        category_id=data.get("category_id", idea.category_id),
        tags=data["tags"] if "tags" in data else [tag.name for tag in idea.tags],
    )
    return _one(idea)


def _support(support) -> dict:
    return {"vote_count": support.vote_count, "voted": support.voted}


@blp.put("/ideas/<int:idea_id>/vote")
@blp.response(200, SupportSchema)
@blp.alt_response(409, schema=ErrorSchema, description="Voting on this idea is closed.")
@permission_required(signed_in)
def vote(idea_id: int):
    """Support an idea. Idempotent: supporting twice counts once."""
    return _support(services.cast_vote(idea_id, voter=current_user))


@blp.delete("/ideas/<int:idea_id>/vote")
@blp.response(200, SupportSchema)
@blp.alt_response(409, schema=ErrorSchema, description="Voting on this idea is closed.")
@permission_required(signed_in)
def unvote(idea_id: int):
    """Withdraw support. Idempotent."""
    return _support(services.withdraw_vote(idea_id, voter=current_user))


@blp.post("/ideas/<int:idea_id>/status")
@blp.arguments(StatusChangeSchema())
@blp.response(200, IdeaSchema)
@blp.alt_response(409, schema=ErrorSchema, description="The workflow does not allow it.")
@permission_required(signed_in)
def change_status(data: dict, idea_id: int):
    """Move an idea along the workflow (moderators and the product team).

    Moderators remove spam with `removed` and a `note` (422 without one) from any status before
    adoption: the idea is then seen only by its author and moderators, takes no votes, and the
    points it paid its author are taken back. `open` restores a removed idea; what was taken
    back stays taken back.
    """
    idea = services.get_idea(idea_id, viewer=current_user)
    services.change_status(
        idea,
        actor=current_user,
        to=data["status"],
        note=data.get("note"),
        official_response=data.get("official_response"),
    )
    return _one(idea)


@blp.post("/ideas/<int:idea_id>/merge")
@blp.arguments(MergeSchema())
@blp.response(200, IdeaSchema)
@blp.alt_response(409, schema=ErrorSchema, description="These ideas cannot be merged.")
@permission_required(signed_in)
def merge(data: dict, idea_id: int):
    """Merge this idea into another (moderators). Answers the merged idea."""
    source = services.get_idea(idea_id, viewer=current_user)
    try:
        target = services.get_idea(data["into"], viewer=current_user)
    except NotFound as error:
        raise NotFound(error.message, fields={"into": [error.message]}) from error
    services.merge_ideas(source, into=target, actor=current_user)
    return _one(source)


@blp.get("/challenges")
@blp.response(200, ChallengeSchema(many=True))
@blp.doc(security=[{}, {"bearerAuth": []}, {"sessionCookie": []}])
def list_challenges():
    """Every challenge, the latest closing first."""
    return [_challenge_json(c) for c in services.list_challenges()]


@blp.post("/challenges")
@blp.arguments(ChallengeCreateSchema())
@blp.response(201, ChallengeSchema)
@permission_required(signed_in)
def create_challenge(data: dict):
    """Publish a challenge (the product team)."""
    challenge = services.create_challenge(current_user, **data)
    return _challenge_json(challenge)


@blp.get("/categories")
@blp.response(200, CategorySchema(many=True))
@blp.doc(security=[{}, {"bearerAuth": []}, {"sessionCookie": []}])
def categories():
    """The categories ideas can be filed under."""
    return services.list_categories()
