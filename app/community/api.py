"""JSON views for the conversation: comments, reactions, follows, notifications, profiles."""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import func, select

from app.accounts import services as accounts
from app.accounts.permissions import permission_required, signed_in
from app.api.errors import ErrorSchema
from app.api.schemas import Integer, OrderedSchema
from app.community import services
from app.community.models import FOLLOW_KINDS, REACTIONS, Comment
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.ideas import services as ideas
from app.ideas.models import Idea
from app.ideas.workflow import HIDDEN

blp = Blueprint(
    "community_api",
    __name__,
    url_prefix="/api/v1",
    description="The conversation: comments, reactions, follows, notifications and profiles.",
)

_ID = validate.Range(min=1, max=2**31 - 1)
# Reading is open to everyone; signed-in callers see their own reactions.
_OPTIONAL_AUTH = [{}, {"bearerAuth": []}, {"sessionCookie": []}]
_EMOJI_PARAMETER = {
    "in": "path",
    "name": "emoji",
    "description": "One of the reactions, URL-encoded UTF-8 (❤️ is `%E2%9D%A4%EF%B8%8F`).",
    "schema": {"type": "string", "enum": list(REACTIONS)},
}
_KIND_PARAMETER = {
    "in": "path",
    "name": "kind",
    "description": "What to follow.",
    "schema": {"type": "string", "enum": list(FOLLOW_KINDS)},
}
READ_IDS_MAX = 500


class PersonSchema(OrderedSchema):
    id = Integer(required=True)
    display_name = fields.String(required=True)


class CommentSchema(OrderedSchema):
    id = Integer(required=True)
    parent_id = Integer(allow_none=True, required=True)
    depth = Integer(required=True, metadata={"description": "0 for a top-level comment."})
    author = fields.Nested(
        PersonSchema, allow_none=True, required=True, metadata={"description": "null if removed."}
    )
    body_html = fields.String(
        required=True, metadata={"description": "Sanitised HTML; empty if removed."}
    )
    by_staff = fields.Boolean(required=True)
    is_official = fields.Boolean(required=True, metadata={"description": "The official answer."})
    edited = fields.Boolean(required=True)
    removed = fields.Boolean(
        required=True, metadata={"description": "Kept as a placeholder so replies make sense."}
    )
    reactions = fields.Dict(
        keys=fields.String(), values=Integer(), required=True, metadata={"example": {}}
    )
    my_reactions = fields.List(fields.String(), required=True)
    created_at = fields.DateTime(required=True)


class ThreadArgs(OrderedSchema):
    after = Integer(
        validate=_ID,
        metadata={"description": "Start after the branch of this comment (`next_after`)."},
    )
    before = Integer(
        validate=_ID, metadata={"description": "Stop before the branch of this comment."}
    )
    limit = Integer(
        load_default=50,
        validate=validate.Range(min=1, max=100),
        metadata={"description": "Branches (top-level comments with their replies) per page."},
    )


class ThreadSchema(OrderedSchema):
    items = fields.List(
        fields.Nested(CommentSchema),
        required=True,
        metadata={
            "description": "A page of branches: each top-level comment followed by all its "
            "replies, oldest first."
        },
    )
    count = Integer(required=True, metadata={"description": "Comments not removed, on every page."})
    next_after = Integer(
        allow_none=True,
        required=True,
        metadata={"description": "Pass as `after` for the next page; null on the last."},
    )


class CommentCreateSchema(OrderedSchema):
    body = fields.String(
        required=True,
        validate=validate.Length(min=1, max=services.COMMENT_MAX),
        metadata={"description": "Markdown; `@Display Name` mentions someone."},
    )
    parent_id = Integer(
        allow_none=True, validate=_ID, metadata={"description": "The comment this replies to."}
    )


class CommentUpdateSchema(OrderedSchema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=services.COMMENT_MAX))


class ReactionsSchema(OrderedSchema):
    reactions = fields.Dict(keys=fields.String(), values=Integer(), required=True)


class FollowingSchema(OrderedSchema):
    following = fields.Boolean(required=True)


class NotificationSchema(OrderedSchema):
    id = Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(services.NOTIFICATION_KINDS))
    text = fields.String(required=True)
    url = fields.String(required=True, metadata={"description": "Where it happened."})
    actor = fields.Nested(PersonSchema, allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    read = fields.Boolean(required=True)


class NotificationListArgs(OrderedSchema):
    unread = fields.Boolean(load_default=False, metadata={"description": "Only unread ones."})
    limit = Integer(load_default=100, validate=validate.Range(min=1, max=100))


class NotificationListSchema(OrderedSchema):
    items = fields.List(fields.Nested(NotificationSchema), required=True)
    unread = Integer(required=True, metadata={"description": "Unread notifications."})


class MarkReadSchema(OrderedSchema):
    ids = fields.List(
        Integer(validate=_ID),
        validate=validate.Length(max=READ_IDS_MAX),
        metadata={"description": "Leave out to mark every notification read."},
    )


class UnreadSchema(OrderedSchema):
    unread = Integer(required=True)


class ProfileSchema(OrderedSchema):
    id = Integer(required=True)
    display_name = fields.String(required=True)
    bio = fields.String(required=True)
    avatar_url = fields.String(allow_none=True, required=True)
    joined = fields.DateTime(required=True)
    idea_count = Integer(required=True, metadata={"description": "Ideas others can see."})
    comment_count = Integer(required=True)


# --- answers --------------------------------------------------------------------------------


def _ordered_reactions(counts: dict[str, int]) -> dict[str, int]:
    return {emoji: counts[emoji] for emoji in REACTIONS if counts.get(emoji)}


def comment_json(comment: Comment, *, reactions: dict[str, int], mine: set[str]) -> dict:
    removed = comment.is_deleted
    return {
        "id": comment.id,
        "parent_id": comment.parent_id,
        "depth": comment.depth,
        # A removed comment keeps its place in the thread, and nothing of what or who.
        "author": None if removed else comment.author,
        "body_html": "" if removed else comment.body_html,
        "by_staff": False if removed else comment.by_staff,
        "is_official": comment.is_official and not removed,
        "edited": comment.edited_at is not None and not removed,
        "removed": removed,
        "reactions": {} if removed else _ordered_reactions(reactions),
        "my_reactions": [] if removed else [emoji for emoji in REACTIONS if emoji in mine],
        "created_at": comment.created_at,
    }


def _one_comment(comment: Comment) -> dict:
    counts = services.reaction_counts([comment.id])[comment.id]
    mine = services.reactions_by(current_user, [comment.id])[comment.id]
    return comment_json(comment, reactions=counts, mine=mine)


def _notification_json(notification) -> dict:
    return {
        "id": notification.id,
        "kind": notification.kind,
        "text": notification.text,
        "url": notification.url,
        "actor": notification.actor,
        "created_at": notification.created_at,
        "read": notification.read_at is not None,
    }


def _visible_idea_count(user_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Idea)
        .where(Idea.author_id == user_id, Idea.status.not_in(HIDDEN))
    )


def _visible_comment_count(user_id: int) -> int:
    """Comments not removed, on challenges or on ideas everyone can see."""
    return db.session.scalar(
        select(func.count())
        .select_from(Comment)
        .outerjoin(Idea, Idea.id == Comment.idea_id)
        .where(
            Comment.author_id == user_id,
            Comment.deleted_at.is_(None),
            Comment.idea_id.is_(None) | (Idea.status.not_in(HIDDEN)),
        )
    )


def _emoji(raw: str) -> str:
    """The reaction named in the URL; ❤ without its variation selector is ❤️."""
    return raw if raw in REACTIONS or f"{raw}\ufe0f" not in REACTIONS else f"{raw}\ufe0f"


# --- comments -------------------------------------------------------------------------------


@blp.get("/ideas/<int:idea_id>/comments")
@blp.arguments(ThreadArgs(), location="query")
@blp.response(200, ThreadSchema)
@blp.doc(security=_OPTIONAL_AUTH)
def thread(args: dict, idea_id: int):
    """The idea's conversation as a flat list in thread order (replies follow their parent),
    a page of branches at a time: pass `next_after` as `after` for the next."""
    idea = ideas.get_idea(idea_id, viewer=current_user)
    after, before = args.get("after"), args.get("before")
    if after is None and before is None and idea.comment_count <= args["limit"]:
        # Fewer comments than the page takes branches: the whole conversation, in one query.
        page = services.thread(viewer=current_user, idea=idea)
    else:
        page = services.more_of_thread(
            viewer=current_user, idea=idea, after=after, before=before, window=args["limit"]
        )
    if not page.roots:
        for name, comment_id in (("after", after), ("before", before)):
            if comment_id is not None and not services.is_comment_on(comment_id, idea=idea):
                message = _("There is no such comment on this idea.")
                raise ValidationFailed(message, fields={name: [message]})
    gap = next(iter(page.gaps.values()), None)
    return {
        "items": [
            comment_json(node.comment, reactions=node.reactions, mine=node.mine)
            for node in services.in_thread_order(page.roots)
        ],
        "count": idea.comment_count,
        "next_after": gap.after if gap else None,
    }


@blp.post("/ideas/<int:idea_id>/comments")
@blp.arguments(CommentCreateSchema())
@blp.response(201, CommentSchema)
@blp.alt_response(409, schema=ErrorSchema, description="The comment replied to was removed.")
@permission_required(signed_in)
def post_comment(data: dict, idea_id: int):
    """Comment on an idea, or reply to one of its comments with `parent_id`."""
    parent = None
    if data.get("parent_id") is not None:
        ideas.get_idea(idea_id, viewer=current_user)  # the idea's 404 comes first
        message = _("There is no such comment on this idea.")
        try:
            parent = services.get_comment(data["parent_id"], viewer=current_user)
        except NotFound as error:
            raise NotFound(message, fields={"parent_id": [message]}) from error
        if parent.idea_id != idea_id:
            # The service would follow the parent to wherever it lives; the URL names the idea.
            raise ValidationFailed(message, fields={"parent_id": [message]})
    # The idea is read back from the UPDATE counting the comment (404 if it cannot be seen).
    comment = services.post_comment(
        current_user, body=data["body"], idea_id=None if parent else idea_id, parent=parent
    )
    return comment_json(comment, reactions={}, mine=set())


@blp.patch("/comments/<int:comment_id>")
@blp.arguments(CommentUpdateSchema())
@blp.response(200, CommentSchema)
@blp.alt_response(409, schema=ErrorSchema, description="A removed comment cannot be edited.")
@permission_required(signed_in)
def edit_comment(data: dict, comment_id: int):
    """Change a comment's text (its author, or a moderator); the old text is kept."""
    comment = services.get_comment(comment_id, viewer=current_user)
    services.edit_comment(comment, editor=current_user, body=data["body"])
    return _one_comment(comment)


@blp.delete("/comments/<int:comment_id>")
@blp.response(204)
@permission_required(signed_in)
def delete_comment(comment_id: int):
    """Remove a comment (its author, or a moderator). Idempotent; replies stay."""
    comment = services.get_comment(comment_id, viewer=current_user)
    services.delete_comment(comment, actor=current_user)


def _react(comment_id: int, emoji: str, *, on: bool) -> dict:
    comment = services.get_comment(comment_id, viewer=current_user)
    counts = services.react(comment, user=current_user, emoji=_emoji(emoji), on=on)
    return {"reactions": _ordered_reactions(counts)}


@blp.put("/comments/<int:comment_id>/reactions/<emoji>", parameters=[_EMOJI_PARAMETER])
@blp.response(200, ReactionsSchema)
@blp.alt_response(409, schema=ErrorSchema, description="The comment was removed.")
@permission_required(signed_in)
def add_reaction(comment_id: int, emoji: str):
    """React to a comment. Idempotent: reacting twice counts once."""
    return _react(comment_id, emoji, on=True)


@blp.delete("/comments/<int:comment_id>/reactions/<emoji>", parameters=[_EMOJI_PARAMETER])
@blp.response(200, ReactionsSchema)
@blp.alt_response(409, schema=ErrorSchema, description="The comment was removed.")
@permission_required(signed_in)
def remove_reaction(comment_id: int, emoji: str):
    """Take a reaction back. Idempotent."""
    return _react(comment_id, emoji, on=False)


# --- follows --------------------------------------------------------------------------------


def _follow(kind: str, target_id: int, *, on: bool) -> dict:
    if kind == "idea":
        # Nobody learns that someone else's idea awaits moderation, not even by following it.
        ideas.get_idea(target_id, viewer=current_user)
    return {"following": services.follow(current_user, kind, target_id, on=on)}


@blp.put("/follows/<kind>/<int:target_id>", parameters=[_KIND_PARAMETER])
@blp.response(200, FollowingSchema)
@permission_required(signed_in)
def follow(kind: str, target_id: int):
    """Follow an idea, a challenge, a category or a person. Idempotent."""
    return _follow(kind, target_id, on=True)


@blp.delete("/follows/<kind>/<int:target_id>", parameters=[_KIND_PARAMETER])
@blp.response(200, FollowingSchema)
@permission_required(signed_in)
def unfollow(kind: str, target_id: int):
    """Stop following. Idempotent."""
    return _follow(kind, target_id, on=False)


# --- notifications --------------------------------------------------------------------------


@blp.get("/notifications")
@blp.arguments(NotificationListArgs(), location="query")
@blp.response(200, NotificationListSchema)
@permission_required(signed_in)
def notifications(args: dict):
    """The caller's notifications, newest first, and how many are unread."""
    items = services.notifications_for(
        current_user, limit=args["limit"], unread_only=args["unread"]
    )
    return {
        "items": [_notification_json(n) for n in items],
        "unread": services.unread_count(current_user),
    }


@blp.post("/notifications/read")
@blp.arguments(MarkReadSchema())
@blp.response(200, UnreadSchema)
@permission_required(signed_in)
def mark_read(data: dict):
    """Mark these notifications read (`{"ids": [...]}`), or all of them (`{}`)."""
    services.mark_read(current_user, data.get("ids"))
    return {"unread": services.unread_count(current_user)}


# --- people ---------------------------------------------------------------------------------


@blp.get("/users/<int:user_id>")
@blp.response(200, ProfileSchema)
@blp.doc(security=_OPTIONAL_AUTH)
def profile(user_id: int):
    """A person's public profile (never their email address)."""
    user = accounts.get_user(user_id)
    details = services.profile_of(user)
    return {
        "id": user.id,
        "display_name": user.display_name,
        "bio": details.bio or "",
        "avatar_url": (
            url_for("ideas.media", path=details.avatar_path) if details.avatar_path else None
        ),
        "joined": user.created_at,
        "idea_count": _visible_idea_count(user.id),
        "comment_count": _visible_comment_count(user.id),
    }
