"""The rules of the conversation: comments, reactions, follows, notifications, consent, feed.

Public functions commit once. Subscribers (``app/community/subscribers.py``) call the private
helpers here inside the publisher's transaction and never commit.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    case,
    delete,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import aliased, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from app.accounts.models import User
from app.accounts.permissions import can_moderate, ensure, is_staff, signed_in
from app.community import events
from app.community.models import (
    FOLLOW_KINDS,
    FREQUENCIES,
    REACTIONS,
    Activity,
    Comment,
    CommentRevision,
    Consent,
    Follow,
    Notification,
    NotificationPreference,
    Profile,
    Reaction,
)
from app.database import commit_and_keep, release_write_lock, row_of, upsert, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.ideas import images
from app.ideas.models import Category, Challenge, Idea
from app.ideas.services import can_see
from app.ideas.workflow import HIDDEN
from app.mail.models import OutboxMessage
from app.mail.services import queue_mail
from app.text import render_markdown
from app.web import external_url

COMMENT_MAX = 10_000
MENTION = re.compile(r"(?<![\w@])@(\w[\w.'-]*(?: [\w.'-]+){0,4})")

# Kinds of notification, with the default e-mail frequency of each.
NOTIFICATION_KINDS = {
    "reply": "immediately",
    "mention": "immediately",
    "status": "immediately",
    "official_response": "immediately",
    "merge": "immediately",
    "milestone": "daily",
    "new_idea": "daily",
    "reward": "immediately",
    "account": "immediately",
}


# --- comments -------------------------------------------------------------------------------


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body or len(body) > COMMENT_MAX:
        raise ValidationFailed(
            _("Write a comment of 1 to 10,000 characters."),
            fields={"body": [_("Between 1 and 10,000 characters.")]},
        )
    return body


def find_mentions(body: str) -> list[User]:
    """People named as ``@Display Name`` in ``body``; unknown or ambiguous names are text."""
    candidates: dict[str, list[str]] = {}
    for match in MENTION.finditer(body):
        words = match.group(1).split(" ")
        candidates[match.group(0)] = [" ".join(words[:n]).lower() for n in range(len(words), 0, -1)]
    names = {name for options in candidates.values() for name in options}
    if not names:
        return []
    by_name: dict[str, list[User]] = defaultdict(list)
    for user in db.session.scalars(select(User).where(func.lower(User.display_name).in_(names))):
        by_name[user.display_name.lower()].append(user)
    found: dict[int, User] = {}
    for options in candidates.values():
        for name in options:  # the longest name that belongs to exactly one person
            if len(by_name.get(name, [])) == 1:
                user = by_name[name][0]
                found[user.id] = user
                break
    return list(found.values())


def _render(body: str, mentioned: list[User]) -> str:
    """Markdown, with each mention linked to the person's profile."""
    for user in sorted(mentioned, key=lambda u: -len(u.display_name)):
        pattern = re.compile(rf"(?<![\w@\[])@{re.escape(user.display_name)}\b", re.IGNORECASE)
        body = pattern.sub(f"[@{user.display_name}](/people/{user.id})", body)
    return render_markdown(body)


def _count_comment_on(idea_id: int, author: User) -> Idea:
    """Count one more comment on the idea, and answer the idea as that UPDATE returns it (it is
    not read before); an idea the author cannot see takes no comment (404, nothing written)."""
    idea = db.session.scalars(
        _count_comment_statement(),
        {"idea_id": idea_id},
        execution_options={"populate_existing": True},
    ).first()
    if idea is None or not can_see(author, idea):
        db.session.rollback()
        raise NotFound(_("No such idea."))
    return idea


@functools.cache
def _count_comment_statement():
    ideas = Idea.__table__
    return select(Idea).from_statement(
        update(ideas)
        .where(ideas.c.id == bindparam("idea_id", type_=Integer))
        .values(comment_count=ideas.c.comment_count + 1)
        .returning(*ideas.c)
    )


def post_comment(
    author: User,
    *,
    body: str,
    idea: Idea | None = None,
    idea_id: int | None = None,
    challenge: Challenge | None = None,
    parent: Comment | None = None,
) -> Comment:
    """Add a comment (or a reply to ``parent``); mentioned people and the parent's author hear.

    The idea may be named by ``idea_id`` alone: it is read back from the UPDATE that counts the
    comment, before the comment is written."""
    ensure(signed_in(author), _("Log in to join the conversation."))
    if idea is not None:
        idea_id = idea.id
    if parent is not None:
        if (idea_id is not None and parent.idea_id != idea_id) or (
            challenge is not None and parent.challenge_id != challenge.id
        ):
            raise ValidationFailed(
                _("Reply within the same conversation."),
                fields={"parent_id": [_("Not in this conversation.")]},
            )
        idea_id = parent.idea_id
        challenge = db.session.get(Challenge, parent.challenge_id) if parent.challenge_id else None
        if parent.is_deleted:
            raise Conflict(
                _("That comment was removed; reply to the conversation instead."),
                code="parent_removed",
            )
    if (idea_id is None) == (challenge is None):
        raise ValidationFailed(_("Comment on an idea or a challenge."))
    body = _clean_body(body)
    candidates = find_mentions(body)  # read before the count below takes the idea's row
    idea = _count_comment_on(idea_id, author) if idea_id is not None else None
    # Only people who can see the idea: a mention must not reveal a pending one.
    mentioned = [
        user
        for user in candidates
        if user.id != author.id and (idea is None or can_see(user, idea))
    ]
    comment = Comment(
        idea_id=idea.id if idea else None,
        challenge_id=challenge.id if challenge else None,
        parent_id=parent.id if parent else None,
        depth=parent.depth + 1 if parent else 0,
        author_id=author.id,
        body=body,
        body_html=_render(body, mentioned),
        by_staff=is_staff(author),
        created_at=utcnow(),
    )
    db.session.add(comment)
    db.session.flush()
    set_committed_value(comment, "author", row_of(author))
    set_committed_value(comment, "idea", idea)
    events.comment_posted.send(
        comment,
        author=author,
        parent=parent,
        mentioned=mentioned,
        comment_count=idea.comment_count if idea is not None else None,
    )
    # Answered as written, by its author, without reading either back (notifications never go
    # to the one who acts, so nothing moved the author's unread count).
    commit_and_keep(comment, idea, author)
    return comment


def _may_change(user: User, comment: Comment) -> bool:
    return signed_in(user) and (user.id == comment.author_id or can_moderate(user))


def edit_comment(comment: Comment, *, editor: User, body: str) -> Comment:
    """Change a comment's text; the old text is kept as a revision and it shows "edited"."""
    ensure(_may_change(editor, comment), _("Only the author can edit this comment."))
    if comment.is_deleted:
        raise Conflict(_("A removed comment cannot be edited."), code="comment_removed")
    body = _clean_body(body)
    db.session.add(CommentRevision(comment_id=comment.id, body=comment.body, editor_id=editor.id))
    comment.body = body
    comment.body_html = _render(body, find_mentions(body))
    comment.edited_at = utcnow()
    db.session.flush()
    events.comment_edited.send(comment, editor=editor)
    db.session.commit()
    return comment


def delete_comment(comment: Comment, *, actor: User) -> None:
    """Remove a comment, leaving a placeholder so replies still make sense."""
    ensure(_may_change(actor, comment), _("Only the author or a moderator can remove this."))
    # Conditional, so two removals at once uncount it once.
    removed = db.session.execute(
        update(Comment)
        .where(Comment.id == comment.id, Comment.deleted_at.is_(None))
        .values(deleted_at=utcnow(), is_official=False)
        .returning(Comment.id)
        .execution_options(synchronize_session=False)
    ).first()
    db.session.expire(comment, ["deleted_at", "is_official"])
    if removed is None:
        db.session.commit()
        return
    if comment.idea_id is not None:
        db.session.execute(
            update(Idea)
            .where(Idea.id == comment.idea_id)
            .values(comment_count=Idea.comment_count - 1)
            .execution_options(synchronize_session=False)
        )
    db.session.flush()
    events.comment_deleted.send(comment, actor=actor)
    db.session.commit()


def mark_official(comment: Comment, *, actor: User) -> None:
    """Pin this staff comment as the official answer (one per idea or challenge)."""
    ensure(is_staff(actor), _("Only staff mark official answers."))
    if comment.is_deleted or not comment.by_staff:
        raise Conflict(
            _("Only a staff member's comment can be the official answer."), code="not_staff_comment"
        )
    scope = (
        Comment.idea_id == comment.idea_id
        if comment.idea_id
        else Comment.challenge_id == comment.challenge_id
    )
    db.session.execute(
        update(Comment)
        .where(scope, Comment.id != comment.id)
        .values(is_official=False)
        .execution_options(synchronize_session=False)
    )
    comment.is_official = True
    db.session.flush()
    events.official_answer_marked.send(comment, actor=actor)
    db.session.commit()


def react(comment: Comment, *, user: User, emoji: str, on: bool = True) -> dict[str, int]:
    """Add (or with ``on=False`` remove) one reaction; idempotent. Returns the counts."""
    ensure(signed_in(user), _("Log in to react."))
    if emoji not in REACTIONS:
        raise ValidationFailed(_("Unknown reaction."), fields={"emoji": [" ".join(REACTIONS)]})
    if comment.is_deleted:
        raise Conflict(_("That comment was removed."), code="comment_removed")
    if on:
        db.session.execute(
            upsert(Reaction)
            .values(comment_id=comment.id, user_id=user.id, emoji=emoji, created_at=utcnow())
            .on_conflict_do_nothing()
        )
    else:
        db.session.execute(
            delete(Reaction).where(
                Reaction.comment_id == comment.id,
                Reaction.user_id == user.id,
                Reaction.emoji == emoji,
            )
        )
    db.session.commit()
    return reaction_counts([comment.id])[comment.id]


def reaction_counts(comment_ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {cid: {} for cid in comment_ids}
    if comment_ids:
        rows = db.session.execute(
            select(Reaction.comment_id, Reaction.emoji, func.count())
            .where(Reaction.comment_id.in_(comment_ids))
            .group_by(Reaction.comment_id, Reaction.emoji)
        )
        for comment_id, emoji, n in rows:
            counts[comment_id][emoji] = n
    return counts


@dataclass
class ThreadNode:
    comment: Comment
    replies: list[ThreadNode] = field(default_factory=list)
    reactions: dict[str, int] = field(default_factory=dict)
    mine: set[str] = field(default_factory=set)


# A long conversation shows its first and its last THREAD_WINDOW comments that start a branch
# (each with all its replies), and the ones between them on request, THREAD_WINDOW at a time.
THREAD_WINDOW = 20


@dataclass(frozen=True)
class Gap:
    """Branches not shown between two that are: ``after`` and ``before`` (None: to the end)
    name the first comments of the branches it lies between."""

    after: int
    before: int | None


@dataclass
class Thread:
    official: Comment | None
    roots: list[ThreadNode]
    count: int
    # The uploaded pictures of the comments' authors, by id (people without one left out).
    avatars: dict[int, str] = field(default_factory=dict)
    # Whether the viewer follows the idea or challenge.
    following: bool = False
    # Branches left out of a long conversation: by the id of the root they follow.
    gaps: dict[int, Gap] = field(default_factory=dict)


def _scope(kind: str, target_id, comment=Comment):
    return comment.idea_id == target_id if kind == "idea" else comment.challenge_id == target_id


@functools.lru_cache(maxsize=8)
def _thread_statement(kind: str, viewer: bool, rooted: bool = False):
    """The query of thread(), built once per kind, signed in or out, and whole or only the
    branches of some roots (building it cost more than running it)."""
    target_id = bindparam("target_id", type_=Integer)
    viewer_id = bindparam("viewer_id", type_=Integer)
    scope = _scope(kind, target_id)
    if rooted:
        # The branches of the chosen roots: the roots, then their replies, level by level.
        tree = (
            select(Comment.id)
            .where(Comment.id.in_(bindparam("root_ids", expanding=True)), scope)
            .cte("tree", recursive=True)
        )
        tree = tree.union_all(select(Comment.id).join(tree, Comment.parent_id == tree.c.id))
        scope = Comment.id.in_(select(tree.c.id))
    follows = (
        exists().where(
            Follow.user_id == viewer_id, Follow.kind == kind, Follow.target_id == target_id
        )
        if viewer
        else false()
    )
    reader = select(follows.label("following")).subquery("reader")
    given = func.max(case((Reaction.user_id == viewer_id, 1), else_=0)) if viewer else literal(0)
    tallies = (
        select(Reaction.comment_id, Reaction.emoji, func.count().label("n"), given.label("mine"))
        .where(Reaction.comment_id.in_(select(Comment.id).where(scope)))
        .group_by(Reaction.comment_id, Reaction.emoji)
        .subquery("tallies")
    )
    return (
        select(
            reader.c.following,
            Comment,
            Profile.avatar_path,
            tallies.c.emoji,
            tallies.c.n,
            tallies.c.mine,
        )
        .select_from(reader)
        .outerjoin(Comment, scope)
        .outerjoin(Profile, Profile.user_id == Comment.author_id)
        .outerjoin(tallies, tallies.c.comment_id == Comment.id)
        # An inner join to the author would drop the reader's row when there are no comments.
        .options(joinedload(Comment.author, innerjoin=False))
        .order_by(Comment.created_at, Comment.id)
    )


def _root_order(kind: str, target_id):
    """The roots of a conversation (comments that answer none), and their reading order."""
    roots = select(Comment.id, Comment.created_at).where(
        _scope(kind, target_id), Comment.parent_id.is_(None)
    )
    return roots, (Comment.created_at, Comment.id)


def _later(comment, at, comment_id, *, strictly_before: bool = False):
    """``comment`` comes after (or before) the one written at ``at`` with ``comment_id``, in
    reading order: by time, then id."""
    if strictly_before:
        return or_(comment.created_at < at, and_(comment.created_at == at, comment.id < comment_id))
    return or_(comment.created_at > at, and_(comment.created_at == at, comment.id > comment_id))


def _after(kind: str, target_id, comment_id, *, strictly_before: bool = False):
    """Comments after (or before) the one named by id, in reading order; none when that one is
    not in the same conversation."""
    other = aliased(Comment)
    at = (
        select(other.created_at)
        .where(other.id == comment_id, _scope(kind, target_id, other))
        .scalar_subquery()
    )
    return _later(Comment, at, comment_id, strictly_before=strictly_before)


@functools.lru_cache(maxsize=8)
def _ends_statement(kind: str):
    """The roots a long conversation shows: its first THREAD_WINDOW + 1 (the last of them says
    whether more follow), its last THREAD_WINDOW, and the roots of the branches that hold the
    official answer and the comment a link points to (``around``, may be none), each with the
    root that follows it. Rows: (id, part, next id), each part in reading order."""
    target_id = bindparam("target_id", type_=Integer)
    window = bindparam("window", type_=Integer)
    roots, order = _root_order(kind, target_id)
    head = roots.order_by(*order).limit(window + 1).subquery("head")
    tail = roots.order_by(*(o.desc() for o in order)).limit(window).subquery("tail")
    # Two seeds, each served by an index (an OR of them walked every comment).
    seeds = union_all(
        select(Comment.id).where(
            Comment.id == bindparam("around", type_=Integer), _scope(kind, target_id)
        ),
        select(Comment.id).where(
            _scope(kind, target_id), Comment.is_official, Comment.deleted_at.is_(None)
        ),
    )
    up = (
        select(Comment.id, Comment.parent_id).where(Comment.id.in_(seeds)).cte("up", recursive=True)
    )
    up = up.union_all(select(Comment.id, Comment.parent_id).join(up, Comment.id == up.c.parent_id))
    focus = select(up.c.id).where(up.c.parent_id.is_(None))
    later = aliased(Comment, name="later")
    following = (
        select(later.id)
        .where(
            _scope(kind, target_id, later),
            later.parent_id.is_(None),
            _later(later, Comment.created_at, Comment.id),
        )
        .order_by(later.created_at, later.id)
        .limit(1)
        .correlate(Comment)
        .scalar_subquery()
    )
    none = literal(None, Integer)
    both = union_all(
        select(head.c.id, literal("head").label("part"), none.label("next"), head.c.created_at),
        select(tail.c.id, literal("tail"), none, tail.c.created_at),
        select(Comment.id, literal("focus"), following, Comment.created_at).where(
            Comment.id.in_(focus)
        ),
    ).subquery("ends")
    return select(both.c.id, both.c.part, both.c.next).order_by(both.c.created_at, both.c.id)


@functools.lru_cache(maxsize=8)
def _between_statement(kind: str, bounded: bool, from_start: bool = False):
    """The next ``window`` + 1 roots after one root, or from the first (``from_start``), and
    before another when bounded."""
    target_id = bindparam("target_id", type_=Integer)
    roots, order = _root_order(kind, target_id)
    if not from_start:
        roots = roots.where(_after(kind, target_id, bindparam("after", type_=Integer)))
    if bounded:
        before = bindparam("before", type_=Integer)
        roots = roots.where(_after(kind, target_id, before, strictly_before=True))
    return roots.order_by(*order).limit(bindparam("window", type_=Integer) + 1)


def _params(target_id: int, viewer: User | None) -> dict:
    params = {"target_id": target_id}
    if signed_in(viewer):
        params["viewer_id"] = viewer.id
    return params


def _target(idea: Idea | None, challenge: Challenge | None) -> tuple[str, int]:
    return ("idea", idea.id) if idea is not None else ("challenge", challenge.id)


def thread(
    *,
    viewer: User | None,
    idea: Idea | None = None,
    challenge: Challenge | None = None,
    window: int | None = None,
    around: int | None = None,
) -> Thread:
    """The conversation, oldest first, as a tree, and whether the viewer follows it.

    Whole (one query whatever its size), or with ``window``, as a page shows a long one: its
    first and last ``window`` branches, with ``Gap``s for those between (two queries). With
    ``around`` (a comment's id), the branch that holds that comment is shown too.

    The query starts from one row saying whether the viewer follows, so that row comes back
    even without comments. Each comment comes with its author, the author's picture and one row
    per kind of reaction it has (at most four), counted, and marked when the viewer gave it.
    """
    kind, target_id = _target(idea, challenge)
    params = _params(target_id, viewer)
    # Only an idea keeps a count of its comments, to tell "2 comments of 500" from "2 comments"
    # and to know the conversation is short without asking.
    short = idea is None or idea.comment_count <= 2 * (window or 0)
    if window is None or short:
        rows = db.session.execute(_thread_statement(kind, "viewer_id" in params), params)
        return _tree(rows)
    ends = db.session.execute(
        _ends_statement(kind), {"target_id": target_id, "window": window, "around": around}
    ).all()
    shown, gaps = _shown_roots(ends, window)
    rows = db.session.execute(
        _thread_statement(kind, "viewer_id" in params, rooted=True),
        {**params, "root_ids": shown},
    )
    result = _tree(rows)
    result.gaps = gaps
    result.count = idea.comment_count  # some are not loaded; the stored count has them all
    return result


def _shown_roots(ends, window: int) -> tuple[list[int], dict[int, Gap]]:
    """From the rows of _ends_statement: the roots to show and the gaps between them.

    Each shown root knows the root that follows it (head and tail are runs without holes; a
    focus row names its next), so a gap lies wherever that one is not the next shown."""
    by_part: dict[str, list[int]] = defaultdict(list)
    following: dict[int, int | None] = {}
    for root_id, part, next_id in ends:
        by_part[part].append(root_id)
        if part == "focus":
            following[root_id] = next_id
    head, tail = by_part["head"], by_part["tail"]
    following.update(zip(head, head[1:], strict=False))
    following.update(zip(tail, [*tail[1:], None], strict=True))
    order = {row[0]: n for n, row in enumerate(ends)}
    shown = sorted({*head[:window], *tail, *by_part["focus"]}, key=order.__getitem__)
    gaps = {}
    for root_id, later in zip(shown, [*shown[1:], None], strict=True):
        if following[root_id] != later:
            gaps[root_id] = Gap(root_id, later)
    return shown, gaps


def more_of_thread(
    *,
    viewer: User | None,
    after: int | None,
    before: int | None,
    idea: Idea | None = None,
    challenge: Challenge | None = None,
    window: int | None = None,
) -> Thread:
    """The branches of a gap, ``window`` (THREAD_WINDOW) at a time, and the gap still left
    after them. ``after`` None: from the first branch."""
    window = window or THREAD_WINDOW
    kind, target_id = _target(idea, challenge)
    params = {"target_id": target_id, "after": after, "before": before, "window": window}
    statement = _between_statement(kind, before is not None, from_start=after is None)
    roots = list(db.session.scalars(statement, params))
    shown = roots[:window]
    if not shown:
        return Thread(None, [], 0)
    rows = db.session.execute(
        _thread_statement(kind, signed_in(viewer), rooted=True),
        {**_params(target_id, viewer), "root_ids": shown},
    )
    result = _tree(rows)
    if len(roots) > window:
        result.gaps = {shown[-1]: Gap(shown[-1], before)}
    return result


def is_comment_on(comment_id: int, *, idea: Idea) -> bool:
    """Whether the comment exists, on this idea (removed or not: a page can start after it)."""
    return db.session.scalar(
        select(exists().where(Comment.id == comment_id, Comment.idea_id == idea.id))
    )


def _tree(rows) -> Thread:
    nodes: dict[int, ThreadNode] = {}
    avatars: dict[int, str] = {}
    following = False
    for follows_it, comment, avatar_path, emoji, n, mine in rows:
        following = bool(follows_it)
        if comment is None:  # no comments: the reader's row alone
            continue
        node = nodes.get(comment.id)
        if node is None:
            node = nodes[comment.id] = ThreadNode(comment)
            if avatar_path:
                avatars[comment.author_id] = avatar_path
        if emoji is not None:
            node.reactions[emoji] = n
            if mine:
                node.mine.add(emoji)
    comments = [node.comment for node in nodes.values()]
    roots: list[ThreadNode] = []
    for comment in comments:
        parent = nodes.get(comment.parent_id) if comment.parent_id else None
        (parent.replies if parent else roots).append(nodes[comment.id])
    official = next((c for c in comments if c.is_official and not c.is_deleted), None)
    count = sum(1 for c in comments if not c.is_deleted)
    return Thread(official, roots, count, avatars, following)


def in_thread_order(roots: list[ThreadNode]):
    """Every node, depth first, without recursion (a reply chain can outgrow the stack)."""
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.replies))


def get_comment(comment_id: int, *, viewer: User | None) -> Comment:
    comment = db.session.get(Comment, comment_id)
    if comment is None:
        raise NotFound(_("No such comment."))
    if comment.idea_id is not None:
        idea = db.session.get(Idea, comment.idea_id)
        if idea is None or not can_see(viewer, idea):
            raise NotFound(_("No such comment."))
    return comment


# --- follows --------------------------------------------------------------------------------


def _target_exists(kind: str, target_id: int) -> bool:
    model = {"idea": Idea, "challenge": Challenge, "category": Category, "user": User}[kind]
    return db.session.get(model, target_id) is not None


def _follow(user_id: int, kind: str, target_id: int) -> None:
    db.session.execute(
        upsert(Follow)
        .values(user_id=user_id, kind=kind, target_id=target_id, created_at=utcnow())
        .on_conflict_do_nothing()
    )


def follow(user: User, kind: str, target_id: int, *, on: bool = True) -> bool:
    """Follow (or stop following) an idea, challenge, category or person. Idempotent."""
    ensure(signed_in(user), _("Log in to follow."))
    if kind not in FOLLOW_KINDS:
        raise ValidationFailed(
            _("Follow an idea, a challenge, a category or a person."),
            fields={"kind": [", ".join(FOLLOW_KINDS)]},
        )
    if not _target_exists(kind, target_id) or (
        kind == "idea" and not can_see(user, db.session.get(Idea, target_id))
    ):
        raise NotFound(_("Nothing to follow there."))
    if kind == "user" and target_id == user.id:
        raise ValidationFailed(_("You cannot follow yourself."), fields={"id": [_("Yourself.")]})
    if on:
        _follow(user.id, kind, target_id)
    else:
        db.session.execute(
            delete(Follow).where(
                Follow.user_id == user.id, Follow.kind == kind, Follow.target_id == target_id
            )
        )
    db.session.commit()
    return on


def is_following(user: User | None, kind: str, target_id: int) -> bool:
    if not signed_in(user):
        return False
    return (
        db.session.scalar(
            select(Follow.id).where(
                Follow.user_id == user.id, Follow.kind == kind, Follow.target_id == target_id
            )
        )
        is not None
    )


def followers(kind: str, target_id: int) -> set[int]:
    return set(
        db.session.scalars(
            select(Follow.user_id).where(Follow.kind == kind, Follow.target_id == target_id)
        )
    )


def _move_followers(source_id: int, target_id: int) -> None:
    for user_id in followers("idea", source_id):
        _follow(user_id, "idea", target_id)
    db.session.execute(delete(Follow).where(Follow.kind == "idea", Follow.target_id == source_id))


# --- consent and preferences ----------------------------------------------------------------


def email_consent(user_id: int) -> bool:
    granted = db.session.scalar(
        select(Consent.granted).where(Consent.user_id == user_id, Consent.channel == "email")
    )
    return bool(granted)


def _record_consent(user: User, granted: bool) -> None:
    db.session.execute(
        upsert(Consent)
        .values(user_id=user.id, channel="email", granted=granted, changed_at=utcnow())
        .on_conflict_do_update(
            index_elements=["user_id", "channel"], set_={"granted": granted, "changed_at": utcnow()}
        )
    )


def set_email_consent(user: User, *, granted: bool) -> None:
    _record_consent(user, granted)
    db.session.commit()


def preferences(user: User) -> dict[str, str]:
    chosen = dict(
        db.session.execute(
            select(NotificationPreference.kind, NotificationPreference.frequency).where(
                NotificationPreference.user_id == user.id
            )
        ).all()
    )
    return {kind: chosen.get(kind, default) for kind, default in NOTIFICATION_KINDS.items()}


def _record_preferences(user: User, chosen: dict[str, str]) -> None:
    for kind, frequency in chosen.items():
        if kind not in NOTIFICATION_KINDS or frequency not in FREQUENCIES:
            raise ValidationFailed(
                _("Choose immediately, daily or never."), fields={kind: [", ".join(FREQUENCIES)]}
            )
    for kind, frequency in chosen.items():
        db.session.execute(
            upsert(NotificationPreference)
            .values(user_id=user.id, kind=kind, frequency=frequency)
            .on_conflict_do_update(
                index_elements=["user_id", "kind"], set_={"frequency": frequency}
            )
        )


def set_preferences(user: User, chosen: dict[str, str]) -> None:
    _record_preferences(user, chosen)
    db.session.commit()


def save_notification_settings(
    user: User, *, frequencies: dict[str, str], email_consent: bool
) -> None:
    """The settings page's one change: frequencies and consent together, or neither."""
    _record_preferences(user, frequencies)
    _record_consent(user, email_consent)
    db.session.commit()


# --- notifications --------------------------------------------------------------------------


def notify(
    recipient_ids,
    *,
    kind: str,
    actor: User | None,
    text: str,
    url: str,
    idea_id: int | None = None,
    challenge_id: int | None = None,
    comment_id: int | None = None,
) -> list[Notification]:
    """One notification per person (never the actor); mailed at once when they want that.

    Runs inside the caller's transaction; mail leaves after commit.
    """
    recipients = set(recipient_ids) - {actor.id if actor else None, None}
    if not recipients:
        return []
    now = utcnow()
    wanted = _email_frequencies(recipients, kind)
    created = []
    for recipient_id in sorted(recipients):
        frequency = wanted.get(recipient_id, "never")
        notification = Notification(
            recipient_id=recipient_id,
            kind=kind,
            actor_id=actor.id if actor else None,
            idea_id=idea_id,
            challenge_id=challenge_id,
            comment_id=comment_id,
            text=text[:300],
            url=url,
            created_at=now,
            emailed_at=now if frequency != "daily" else None,
        )
        db.session.add(notification)
        created.append((notification, frequency))
    db.session.flush()
    _count_unread(recipients, +1)
    for notification, frequency in created:
        if frequency == "immediately":
            _mail_now(notification)
        events.notification_created.send(notification)
    return [n for n, _f in created]


def _email_frequencies(recipient_ids: set[int], kind: str) -> dict[int, str]:
    """Each recipient's mail frequency for ``kind``; "never" without e-mail consent."""
    consenting = set(
        db.session.scalars(
            select(Consent.user_id).where(
                Consent.user_id.in_(recipient_ids),
                Consent.channel == "email",
                Consent.granted.is_(True),
            )
        )
    )
    chosen = dict(
        db.session.execute(
            select(NotificationPreference.user_id, NotificationPreference.frequency).where(
                NotificationPreference.user_id.in_(consenting), NotificationPreference.kind == kind
            )
        ).all()
    )
    default = NOTIFICATION_KINDS.get(kind, "daily")
    return {
        uid: chosen.get(uid, default) if uid in consenting else "never" for uid in recipient_ids
    }


def _mail_now(notification: Notification) -> None:
    user = db.session.get(User, notification.recipient_id)
    queue_mail(
        to=user.email,
        subject=_("Cocreate: %(text)s", text=notification.text[:120]),
        body=_(
            "%(text)s\n\n%(link)s\n\nChange what we mail you: %(prefs)s",
            text=notification.text,
            link=_absolute(notification.url),
            prefs=external_url("community.notification_settings"),
        ),
        kind=f"notification_{notification.kind}",
    )


def _absolute(path: str) -> str:
    return current_app.config["SITE_URL"].rstrip("/") + path if path.startswith("/") else path


def _count_unread(user_ids, delta: int) -> None:
    """Move the stored unread counters in SQL, in the transaction that adds or reads the rows.

    "fetch" keeps User objects of this session in step (through RETURNING, no extra query).
    """
    db.session.execute(
        update(User)
        .where(User.id.in_(sorted(user_ids)))
        .values(unread_notifications=User.unread_notifications + delta)
        .execution_options(synchronize_session="fetch")
    )


def unread_count(user: User | None) -> int:
    """The stored counter: loaded with the signed-in user, so the bell costs no query."""
    if not signed_in(user):
        return 0
    return user.unread_notifications


def recount_unread(user_ids=None) -> None:
    """Set the unread counters (of these people, or everyone) from the notifications again."""
    unread = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.recipient_id == User.id, Notification.read_at.is_(None))
        .scalar_subquery()
    )
    stmt = update(User).values(unread_notifications=unread)
    if user_ids is not None:
        stmt = stmt.where(User.id.in_(sorted(user_ids)))
    db.session.execute(stmt.execution_options(synchronize_session="fetch"))
    db.session.commit()


def notifications_for(
    user: User, *, limit: int = 100, unread_only: bool = False
) -> list[Notification]:
    stmt = (
        select(Notification)
        .where(Notification.recipient_id == user.id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list(db.session.scalars(stmt))


def grouped(notifications: list[Notification]) -> list[tuple[Idea | None, list[Notification]]]:
    """Notifications grouped by idea, groups in order of their newest notification."""
    ideas = {
        i.id: i
        for i in db.session.scalars(
            select(Idea).where(Idea.id.in_({n.idea_id for n in notifications if n.idea_id}))
        )
    }
    groups: dict[int | None, list[Notification]] = {}
    for notification in notifications:
        key = notification.idea_id if notification.idea_id else -notification.id
        groups.setdefault(key, []).append(notification)
    return [(ideas.get(key) if key and key > 0 else None, items) for key, items in groups.items()]


def mark_read(user: User, ids: list[int] | None = None) -> int:
    """Mark these notifications (or all) read; returns how many changed."""
    ensure(signed_in(user))
    stmt = update(Notification).where(
        Notification.recipient_id == user.id, Notification.read_at.is_(None)
    )
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(ids))
    changed = db.session.execute(
        stmt.values(read_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        # Only rows this statement moved from unread to read: a concurrent mark-read of the
        # same rows changes none of them, so the counter is never taken down twice.
        _count_unread({user.id}, -changed)
    db.session.commit()
    return changed


def send_digests(now: datetime | None = None) -> int:
    """Mail each person one digest of their unmailed "daily" notifications; returns mails sent.

    A person gets at most one digest a day: notifications newer than 24 hours after their
    previous digest wait for the next run.
    """
    now = now or utcnow()
    pending = list(
        db.session.scalars(
            select(Notification)
            .where(Notification.emailed_at.is_(None))
            .order_by(Notification.recipient_id, Notification.id)
        )
    )
    by_person: dict[int, list[Notification]] = defaultdict(list)
    for notification in pending:
        by_person[notification.recipient_id].append(notification)
    sent = 0
    for recipient_id, items in by_person.items():
        if not email_consent(recipient_id):
            for n in items:
                n.emailed_at = now
            continue
        user = db.session.get(User, recipient_id)
        last = db.session.scalar(
            select(func.max(OutboxMessage.created_at)).where(
                OutboxMessage.kind == "digest", OutboxMessage.to_address == user.email
            )
        )
        if last is not None and now - last < timedelta(hours=23):
            continue
        lines = [f"- {n.text}\n  {_absolute(n.url)}" for n in items]
        queue_mail(
            to=user.email,
            subject=_("Your Cocreate digest: %(n)d updates", n=len(items)),
            body=_(
                "Hello %(name)s, here is what happened on what you follow:\n\n%(lines)s\n\n"
                "Change what we mail you: %(prefs)s",
                name=user.display_name,
                lines="\n".join(lines),
                prefs=external_url("community.notification_settings"),
            ),
            kind="digest",
        )
        for n in items:
            n.emailed_at = now
        sent += 1
    db.session.commit()
    return sent


# --- activity feed --------------------------------------------------------------------------


def record_activity(
    kind: str,
    *,
    text: str,
    actor_id: int | None = None,
    idea: Idea | None = None,
    challenge_id: int | None = None,
) -> None:
    db.session.add(
        Activity(
            kind=kind,
            text=text[:300],
            actor_id=actor_id,
            idea_id=idea.id if idea else None,
            challenge_id=challenge_id if challenge_id else (idea.challenge_id if idea else None),
            category_id=idea.category_id if idea else None,
            created_at=utcnow(),
        )
    )


def feed(*, viewer: User | None = None, following: bool = False, limit: int = 30) -> list[Activity]:
    """The newest activity; with ``following``, only on what the viewer follows."""
    return [item for item, _avatar in _feed_rows(viewer, following, limit)]


def feed_with_avatars(
    *, viewer: User | None = None, following: bool = False, limit: int = 30
) -> tuple[list[Activity], dict[int, str]]:
    """``feed()``, and the actors' uploaded pictures by id, in the same query."""
    rows = _feed_rows(viewer, following, limit)
    return [item for item, _a in rows], {item.actor_id: a for item, a in rows if a}


def _feed_rows(viewer: User | None, following: bool, limit: int) -> list[tuple[Activity, str]]:
    stmt = (
        select(Activity, Profile.avatar_path)
        .outerjoin(Profile, Profile.user_id == Activity.actor_id)
        .order_by(Activity.id.desc())
        .limit(limit)
    )
    if following:
        if not signed_in(viewer):
            return []
        mine = select(Follow.kind, Follow.target_id).where(Follow.user_id == viewer.id).subquery()
        stmt = stmt.where(
            Activity.idea_id.in_(select(mine.c.target_id).where(mine.c.kind == "idea"))
            | Activity.challenge_id.in_(select(mine.c.target_id).where(mine.c.kind == "challenge"))
            | Activity.category_id.in_(select(mine.c.target_id).where(mine.c.kind == "category"))
            | Activity.actor_id.in_(select(mine.c.target_id).where(mine.c.kind == "user"))
        )
    return [tuple(row) for row in db.session.execute(stmt)]


# --- profiles -------------------------------------------------------------------------------


def profile_of(user: User) -> Profile:
    return db.session.get(Profile, user.id) or Profile(user_id=user.id, bio="", show_points=True)


BIO_MAX = 500
AVATAR_SIDE = 256


def _avatar_image(upload):
    """The upload checked and re-encoded as idea images are, then cut to a square."""
    import io

    from PIL import Image, ImageOps

    release_write_lock()  # re-encoding takes a while: not under SQLite's write lock
    try:
        checked = images.process_upload(upload)
    except ValidationFailed as error:
        raise ValidationFailed(
            error.message, code=error.code, fields={"avatar": [error.message]}
        ) from error
    with Image.open(io.BytesIO(checked.data)) as picture:
        square = ImageOps.fit(picture, (AVATAR_SIDE, AVATAR_SIDE))
        out = io.BytesIO()
        square.save(out, format="WEBP", quality=85, method=4)
    return images.ProcessedImage(out.getvalue(), AVATAR_SIDE, AVATAR_SIDE)


def update_profile(
    user: User,
    *,
    bio: str,
    show_points: bool | None = None,
    avatar_upload=None,
    remove_avatar: bool = False,
) -> Profile:
    """Save the public profile; a new avatar replaces (and deletes) the old picture.

    ``show_points=None`` leaves that setting as it is. The picture file is written before the
    commit and removed again if the commit fails; the old one goes only after it succeeds.
    """
    ensure(signed_in(user), _("Log in to change your profile."))
    bio = (bio or "").strip()
    if len(bio) > BIO_MAX:
        message = _("Keep your bio to %(n)d characters.", n=BIO_MAX)
        raise ValidationFailed(message, fields={"bio": [message]})
    avatar = _avatar_image(avatar_upload) if avatar_upload is not None else None
    profile = db.session.get(Profile, user.id)
    if profile is None:
        profile = Profile(user_id=user.id, bio="", show_points=True)
        db.session.add(profile)
    previous = profile.avatar_path
    written: list[str] = []
    profile.bio = bio
    if show_points is not None:
        profile.show_points = show_points
    if avatar is not None:
        written.append(images.save(avatar, f"avatars/{user.id}"))
        profile.avatar_path = written[0]
    elif remove_avatar:
        profile.avatar_path = None
    images.commit_or_discard(written)
    if previous and previous != profile.avatar_path:
        images.discard([previous])
    return profile


def avatar_paths(user_ids) -> dict[int, str]:
    """The uploaded pictures of these people, by id; people without one are left out."""
    ids = {uid for uid in user_ids if uid}
    if not ids:
        return {}
    return dict(
        db.session.execute(
            select(Profile.user_id, Profile.avatar_path).where(
                Profile.user_id.in_(ids), Profile.avatar_path.is_not(None)
            )
        ).all()
    )


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def suggest_people(prefix: str, *, limit: int = 8, exclude_id: int | None = None) -> list[User]:
    """People whose display name, or a word of it, starts with ``prefix`` (2+ characters)."""
    prefix = (prefix or "").strip().lstrip("@").strip().lower()[:80]
    if len(prefix) < 2:
        return []
    name = func.lower(User.display_name)
    stmt = (
        select(User)
        .where(
            name.like(_like_prefix(prefix), escape="\\")
            | name.like("% " + _like_prefix(prefix), escape="\\")
        )
        .order_by(name.like(_like_prefix(prefix), escape="\\").desc(), name, User.id)
        .limit(max(1, min(limit, 8)))
    )
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    return list(db.session.scalars(stmt))


def ideas_by(user: User, *, limit: int = 20) -> list[Idea]:
    """The person's ideas that everyone may see (not awaiting moderation), newest first."""
    from sqlalchemy.orm import selectinload

    return list(
        db.session.scalars(
            select(Idea)
            .where(Idea.author_id == user.id, Idea.status.not_in(HIDDEN))
            .order_by(Idea.created_at.desc(), Idea.id.desc())
            .options(selectinload(Idea.images), selectinload(Idea.tags))
            .limit(limit)
        ).unique()
    )


@dataclass
class ProfileComment:
    comment: Comment
    idea: Idea | None
    challenge: Challenge | None


def comments_by(user: User, *, limit: int = 10) -> list[ProfileComment]:
    """The person's latest comments that are not removed and sit where everyone can read."""
    rows = db.session.execute(
        select(Comment, Idea, Challenge)
        .outerjoin(Idea, Idea.id == Comment.idea_id)
        .outerjoin(Challenge, Challenge.id == Comment.challenge_id)
        .where(
            Comment.author_id == user.id,
            Comment.deleted_at.is_(None),
            Comment.idea_id.is_(None) | (Idea.status.not_in(HIDDEN)),
        )
        .order_by(Comment.created_at.desc(), Comment.id.desc())
        .limit(limit)
    ).unique()
    return [ProfileComment(comment, idea, challenge) for comment, idea, challenge in rows]


def reactions_by(user: User | None, comment_ids: list[int]) -> dict[int, set[str]]:
    """Which reactions ``user`` gave to each of these comments (for one re-rendered comment)."""
    mine: dict[int, set[str]] = {cid: set() for cid in comment_ids}
    if signed_in(user) and comment_ids:
        for comment_id, emoji in db.session.execute(
            select(Reaction.comment_id, Reaction.emoji).where(
                Reaction.user_id == user.id, Reaction.comment_id.in_(comment_ids)
            )
        ):
            mine[comment_id].add(emoji)
    return mine
