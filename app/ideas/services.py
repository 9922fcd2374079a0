"""The rules of ideas: submission, editing, support, the status workflow, merging, challenges.

These are the only writers of ideas data. Public functions commit once; pages, the API and the
CLI share them. Counters (supporters, recent supporters, ideas per challenge) are changed in SQL,
never read into Python and written back, so concurrent requests never lose an update.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import (
    aliased,
    contains_eager,
    joinedload,
    lazyload,
    load_only,
    selectinload,
)

from app import abilities
from app.accounts.models import User
from app.accounts.permissions import (
    can_manage_categories,
    can_moderate,
    ensure,
    is_product_team,
    signed_in,
)
from app.database import (
    PreparedQuery,
    UTCDateTime,
    as_utc,
    commit_and_keep,
    epoch_seconds,
    insert_for,
    release_write_lock,
    upsert,
    utcnow,
)
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.ideas import events, images, search
from app.ideas.models import (
    ADOPTED,
    DECLINED,
    IN_PRODUCTION,
    MERGED,
    OPEN,
    PENDING,
    REMOVED,
    SHIPPED,
    SHORTLISTED,
    UNDER_REVIEW,
    Category,
    Challenge,
    Idea,
    IdeaImage,
    IdeaMerge,
    IdeaRevision,
    Milestone,
    StatusChange,
    Tag,
    Vote,
    idea_tags,
)
from app.ideas.workflow import HIDDEN, MERGEABLE, STATUS_LABELS, VOTABLE, find_move
from app.text import render_markdown

TITLE_MIN, TITLE_MAX = 5, 140
BODY_MAX = 20_000
MAX_TAGS = 5
MAX_IMAGES = 4
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")
RECENT_WINDOW = timedelta(days=7)

# The hot score: log10(supporters) + age in units of HOT_TIME_SCALE since HOT_EPOCH.
# Ordering by it is the same as ordering by supporters × 10^(−age / HOT_TIME_SCALE), that is,
# support decayed tenfold every two days, but the score of an idea only changes when its
# support does, so it is stored, indexed and never computed per row at query time.
HOT_EPOCH = 1_704_067_200.0  # 2024-01-01T00:00:00Z
HOT_TIME_SCALE = timedelta(days=2).total_seconds()


class IllegalTransition(Conflict):
    code = "illegal_transition"


class VotingClosed(Conflict):
    code = "voting_closed"


def hot_score(vote_count: int, created_at: datetime) -> float:
    return round(
        math.log10(max(vote_count, 1)) + (created_at.timestamp() - HOT_EPOCH) / HOT_TIME_SCALE, 7
    )


# --- input rules ----------------------------------------------------------------------------


def _clean_title(title: str) -> str:
    title = " ".join((title or "").split())
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        raise ValidationFailed(
            _("Give your idea a title of 5 to 140 characters."),
            fields={"title": [_("Between 5 and 140 characters.")]},
        )
    return title


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body or len(body) > BODY_MAX:
        raise ValidationFailed(
            _("Describe your idea in up to 20,000 characters."),
            fields={"body": [_("Between 1 and 20,000 characters.")]},
        )
    return body


def clean_tags(raw: list[str] | str | None) -> list[str]:
    """Tags as people type them ("Eco friendly, travel") → ["eco-friendly", "travel"]."""
    if isinstance(raw, str):
        raw = raw.split(",")
    names: list[str] = []
    for item in raw or []:
        name = "-".join(str(item).strip().lower().split())
        if not name:
            continue
        if not TAG_PATTERN.match(name):
            raise ValidationFailed(
                _("Tags use letters, digits and dashes, up to 30 characters."),
                fields={"tags": [_("“%(tag)s” is not a valid tag.", tag=name)]},
            )
        if name not in names:
            names.append(name)
    if len(names) > MAX_TAGS:
        raise ValidationFailed(_("Use at most 5 tags."), fields={"tags": [_("At most 5 tags.")]})
    return names


def _tags(names: list[str]) -> list[Tag]:
    if not names:
        return []
    existing = {t.name: t for t in db.session.scalars(select(Tag).where(Tag.name.in_(names)))}
    for name in names:
        if name not in existing:
            # A concurrent request may create the same tag: insert-or-ignore, then read.
            db.session.execute(upsert(Tag).values(name=name).on_conflict_do_nothing())
    if len(existing) < len(names):
        existing = {t.name: t for t in db.session.scalars(select(Tag).where(Tag.name.in_(names)))}
    return [existing[name] for name in names]


def _category(category_id: int | None) -> Category | None:
    if category_id in (None, "", 0):
        return None
    category = db.session.get(Category, int(category_id))
    if category is None:
        raise ValidationFailed(
            _("Choose one of the listed categories."), fields={"category": [_("Unknown.")]}
        )
    return category


def _open_challenge(challenge_id: int | None, now: datetime) -> Challenge | None:
    if challenge_id in (None, "", 0):
        return None
    challenge = db.session.get(Challenge, int(challenge_id))
    if challenge is None:
        raise ValidationFailed(_("No such challenge."), fields={"challenge": [_("Unknown.")]})
    if not challenge.is_open(now):
        raise Conflict(
            _("The challenge “%(title)s” is not taking ideas now.", title=challenge.title),
            code="challenge_closed",
            fields={"challenge": [_("Not open.")]},
        )
    return challenge


# --- submitting and editing -----------------------------------------------------------------


def submit_idea(
    author: User,
    *,
    title: str,
    body: str,
    category_id: int | None = None,
    tags: list[str] | str | None = None,
    challenge_id: int | None = None,
    uploads: list | None = None,
) -> Idea:
    """Post an idea. It is open at once, or pending when pre-moderation is on."""
    ensure(signed_in(author), _("Log in to share an idea."))
    now = utcnow()
    title, body = _clean_title(title), _clean_body(body)
    tag_names = clean_tags(tags)
    category = _category(category_id)
    challenge = _open_challenge(challenge_id, now)
    uploads = [u for u in (uploads or []) if u]
    if len(uploads) > MAX_IMAGES:
        raise ValidationFailed(_("Attach at most 4 images."), fields={"images": [_("At most 4.")]})
    if uploads:
        release_write_lock()  # ~0.5 s per picture: not while other writers wait
    processed = [images.process_upload(upload) for upload in uploads]

    premoderated = current_app.config["IDEAS_PREMODERATION"] and not abilities.allows(
        author, "skip_premoderation"
    )
    status = PENDING if premoderated else OPEN
    idea = Idea(
        title=title,
        body=body,
        body_html=render_markdown(body),
        status=status,
        author_id=author.id,
        category=category or (challenge.category if challenge else None),
        challenge_id=challenge.id if challenge else None,
        created_at=now,
        updated_at=now,
        status_changed_at=now,
        hot_score=hot_score(0, now),
        tags=_tags(tag_names),
    )
    db.session.add(idea)
    db.session.flush()
    db.session.add(
        StatusChange(
            idea_id=idea.id, actor_id=author.id, from_status=None, to_status=status, created_at=now
        )
    )
    if challenge and status == OPEN:
        _count_in_challenge(challenge.id)
    saved = images.save_all(idea, processed)
    try:
        events.idea_submitted.send(idea, author=author)
        if status == OPEN:
            events.idea_published.send(idea, actor=None)
        db.session.commit()
    except BaseException:
        images.discard(saved)
        raise
    return idea


def edit_idea(
    idea: Idea,
    *,
    editor: User,
    title: str,
    body: str,
    category_id: int | None = None,
    tags: list[str] | str | None = None,
) -> Idea:
    """Authors edit their idea while it is pending or open; the old text is kept as a revision."""
    ensure(
        signed_in(editor) and (editor.id == idea.author_id or can_moderate(editor)),
        _("Only the author can edit this idea."),
    )
    if not can_edit(editor, idea):
        raise Conflict(
            _(
                "This idea is %(status)s and can no longer be edited.",
                status=STATUS_LABELS[idea.status].lower(),
            ),
            code="not_editable",
        )
    title, body = _clean_title(title), _clean_body(body)
    tag_names = clean_tags(tags)
    category = _category(category_id)
    revision = IdeaRevision(idea_id=idea.id, editor_id=editor.id, title=idea.title, body=idea.body)
    db.session.add(revision)
    idea.title, idea.body, idea.body_html = title, body, render_markdown(body)
    idea.category = category
    idea.tags = _tags(tag_names)
    idea.updated_at = utcnow()
    db.session.flush()
    events.idea_edited.send(idea, editor=editor, revision=revision)
    db.session.commit()
    return idea


# --- support --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Support:
    idea: Idea
    voted: bool

    @property
    def vote_count(self) -> int:
        return self.idea.vote_count


def _check_voting_open(idea: Idea, now: datetime) -> None:
    """Why a vote on ``idea`` is refused (VotingClosed), as ``_open_for_votes`` decides it."""
    if idea.status not in VOTABLE:
        raise VotingClosed(
            _(
                "Ideas that are %(status)s cannot be supported.",
                status=STATUS_LABELS[idea.status].lower(),
            )
        )
    if idea.challenge_id is not None:
        challenge = db.session.get(Challenge, idea.challenge_id)
        if challenge is not None and not challenge.is_open(now):
            raise VotingClosed(_("The challenge “%(title)s” is closed.", title=challenge.title))


def _open_for_votes(now):
    """``_check_voting_open`` as SQL, for statements that vote only where votes are taken: a
    status that takes votes, and no challenge that is not open at ``now``."""
    return and_(
        Idea.status.in_(sorted(VOTABLE)),
        ~exists().where(
            Challenge.id == Idea.challenge_id,
            or_(Challenge.opens_at > now, Challenge.closes_at <= now),
        ),
    )


@functools.lru_cache(maxsize=2)
def _support_statements(dialect: str) -> dict:
    """The statements of a vote and its withdrawal, built once per database (building them cost
    about as much as running them). Each vote is taken only where ``_open_for_votes`` allows
    it, so the idea is not read first."""
    idea_id = bindparam("idea_id", type_=Integer)
    voter_id = bindparam("voter_id", type_=Integer)
    now = bindparam("now", type_=UTCDateTime)
    delta = bindparam("delta", type_=Integer)
    insert_ = insert_for(dialect)
    votes, ideas = Vote.__table__, Idea.__table__

    def support(count):
        return func.log10(cast(case((count > 1, count), else_=1), Float))

    new_count = ideas.c.vote_count + delta
    moved = (
        update(ideas)
        .where(ideas.c.id == idea_id)
        .values(
            vote_count=new_count,
            recent_vote_count=ideas.c.recent_vote_count + bindparam("recent_delta", type_=Integer),
            # hot_score() in SQL (SET sees the row as it was), from the idea's own created_at.
            hot_score=support(new_count)
            + (epoch_seconds(ideas.c.created_at) - HOT_EPOCH) / HOT_TIME_SCALE,
        )
        .returning(*ideas.c)
    )
    return {
        "insert": insert_(votes)
        .from_select(
            ["idea_id", "voter_id", "created_at"],
            select(Idea.id, cast(voter_id, Integer), now).where(
                Idea.id == idea_id, Idea.author_id != voter_id, _open_for_votes(now)
            ),
        )
        .on_conflict_do_nothing(index_elements=["idea_id", "voter_id"])
        .returning(votes.c.id),
        "delete": delete(votes)
        .where(
            votes.c.idea_id == idea_id,
            votes.c.voter_id == voter_id,
            exists().where(Idea.id == idea_id, _open_for_votes(now)),
        )
        .returning(votes.c.created_at),
        # The idea as the counters left it, read back from their UPDATE.
        "move": select(Idea).from_statement(moved),
    }


def _statements() -> dict:
    return _support_statements(db.session.get_bind().dialect.name)


def _change_support(idea_id: int, *, delta: int, recent_delta: int) -> Idea:
    """Move the stored counters by ``delta`` in SQL and refresh the hot score with them, in one
    statement that answers with the idea as it now is."""
    return db.session.scalars(
        _statements()["move"],
        {"idea_id": idea_id, "delta": delta, "recent_delta": recent_delta},
        execution_options={"populate_existing": True},
    ).one()


def _refused(idea_id: int, voter: User, now: datetime, *, voting: bool) -> Idea:
    """A vote (``voting``) or withdrawal that changed nothing: raise what refused it, or answer
    the idea (the vote was there already, or was not). Withdrawing from one's own idea is a
    no-op, as withdrawing any support one does not give."""
    idea = get_idea(idea_id, viewer=voter)
    if voting and voter.id == idea.author_id:
        raise Forbidden(_("You cannot support your own idea."), code="own_idea")
    _check_voting_open(idea, now)
    return idea


def cast_vote(idea_id: int, *, voter: User) -> Support:
    """Support an idea. A second vote by the same person is a no-op that answers the same.

    The vote is written only where it is allowed (not one's own idea, the idea taking votes);
    the counters' UPDATE answers with the idea. Only a vote that wrote nothing reads the idea,
    to say why."""
    ensure(signed_in(voter), _("Log in to support ideas."))
    now = utcnow()
    inserted = db.session.execute(
        _statements()["insert"], {"idea_id": idea_id, "voter_id": voter.id, "now": now}
    ).first()
    if inserted is None:  # supported already (or refused meanwhile: then say so as it is)
        idea = _refused(idea_id, voter, now, voting=True)
        voted = idea.id in supported_ids(voter, [idea.id])
        db.session.commit()
        return Support(idea, voted)
    idea = _change_support(idea_id, delta=1, recent_delta=1)
    count = idea.vote_count
    events.vote_cast.send(idea, voter=voter, vote_count=count)
    if count in _thresholds():
        _reach_milestones(idea, count)
        db.session.commit()
    else:  # the subscribers change neither the idea nor the voter in SQL
        commit_and_keep(idea, voter)
    return Support(idea, True)


def withdraw_vote(idea_id: int, *, voter: User) -> Support:
    """Withdraw support. Withdrawing support one does not give is a no-op."""
    ensure(signed_in(voter), _("Log in to support ideas."))
    now = utcnow()
    removed = db.session.execute(
        _statements()["delete"], {"idea_id": idea_id, "voter_id": voter.id, "now": now}
    ).first()
    if removed is None:
        idea = _refused(idea_id, voter, now, voting=False)
        db.session.commit()
        return Support(idea, False)
    recent = 1 if now - removed.created_at <= RECENT_WINDOW else 0
    idea = _change_support(idea_id, delta=-1, recent_delta=-recent)
    events.vote_withdrawn.send(idea, voter=voter, vote_count=idea.vote_count)
    commit_and_keep(idea, voter)
    return Support(idea, False)


def _supported_by(viewer: User | None):
    """A column for queries of ideas: does the viewer support this one (false when signed out)."""
    if not signed_in(viewer):
        return false().label("voted")
    return exists().where(Vote.idea_id == Idea.id, Vote.voter_id == viewer.id).label("voted")


def supported_ids(viewer: User | None, idea_ids: list[int]) -> set[int]:
    """Which of these ideas the viewer supports: one query for a whole page."""
    if not signed_in(viewer) or not idea_ids:
        return set()
    return set(
        db.session.scalars(
            select(Vote.idea_id).where(Vote.voter_id == viewer.id, Vote.idea_id.in_(idea_ids))
        )
    )


def _thresholds() -> set[int]:
    """The milestones, and the review threshold even when it is not listed among them."""
    config = current_app.config
    return {*config["IDEA_MILESTONES"], config["IDEA_REVIEW_THRESHOLD"]}


def _reach_milestones(idea: Idea, count: int) -> None:
    """Record every threshold ``count`` has reached, once each; announce the new ones."""
    config = current_app.config
    for threshold in sorted(t for t in _thresholds() if t <= count):
        milestone_id = db.session.execute(
            upsert(Milestone)
            .values(idea_id=idea.id, threshold=threshold, reached_at=utcnow())
            .on_conflict_do_nothing(index_elements=["idea_id", "threshold"])
            .returning(Milestone.id)
        ).scalar()
        if milestone_id is None:  # reached before: recorded and announced once only
            continue
        milestone = db.session.get(Milestone, milestone_id)
        events.milestone_reached.send(idea, milestone=milestone)
        if threshold == config["IDEA_REVIEW_THRESHOLD"]:
            db.session.refresh(idea, ["status"])
            if idea.status == OPEN:
                _move(
                    idea, UNDER_REVIEW, actor=None, note=_("Reached %(n)d supporters.", n=threshold)
                )


# --- the workflow ---------------------------------------------------------------------------


def _count_in_challenge(challenge_id: int, delta: int = 1) -> None:
    """A challenge counts the ideas published in it (pending and removed ones are not on its
    page)."""
    db.session.execute(
        update(Challenge)
        .where(Challenge.id == challenge_id)
        .values(idea_count=Challenge.idea_count + delta)
        .execution_options(synchronize_session=False)
    )


def _lock(*ideas: Idea) -> None:
    """Hold the ideas' rows until commit (PostgreSQL; SQLite requests hold the whole database)
    and reload them, so a decision is made on their latest state. Locks in id order."""
    ids = sorted(idea.id for idea in ideas)
    db.session.execute(select(Idea.id).where(Idea.id.in_(ids)).order_by(Idea.id).with_for_update())
    for idea in ideas:
        db.session.refresh(idea)


def _move(
    idea: Idea,
    target: str,
    *,
    actor: User | None,
    note: str | None,
    official_response: str | None = None,
) -> StatusChange:
    now = utcnow()
    previous = idea.status
    # Removing spam or restoring it moves its challenge's count only if it had been published
    # (asked before this change is flushed).
    published = REMOVED in (previous, target) and _published_before(idea)
    change = StatusChange(
        idea_id=idea.id,
        actor_id=actor.id if actor else None,
        from_status=idea.status,
        to_status=target,
        note=note,
        created_at=now,
    )
    db.session.add(change)
    idea.status = target
    idea.status_changed_at = now
    if target == DECLINED:
        idea.decline_reason = note
    if official_response:
        idea.official_response = official_response
        idea.official_response_html = render_markdown(official_response)
        idea.official_response_by_id = actor.id if actor else None
        idea.official_response_at = now
    db.session.flush()
    events.idea_status_changed.send(
        idea, change=change, actor=actor, official_response=official_response
    )
    if target == OPEN and (previous == PENDING or (previous == REMOVED and not published)):
        if idea.challenge_id:
            _count_in_challenge(idea.challenge_id)
        events.idea_published.send(idea, actor=actor)
    elif previous == REMOVED and published and idea.challenge_id:
        _count_in_challenge(idea.challenge_id)  # restored: published once, announced once
    if target == REMOVED and published and idea.challenge_id:
        _count_in_challenge(idea.challenge_id, -1)
    return change


def _published_before(idea: Idea) -> bool:
    """Whether the idea was ever published. Pending ones were not, nor ones declined or removed
    straight from the moderation queue and never opened since."""
    if idea.status == PENDING:
        return False
    if idea.status not in (DECLINED, REMOVED):
        return True
    history = select(StatusChange.id).where(StatusChange.idea_id == idea.id)
    unpublished = history.where(
        StatusChange.from_status == PENDING, StatusChange.to_status.in_((DECLINED, REMOVED))
    ).exists()
    opened = history.where(StatusChange.to_status == OPEN).exists()
    return not db.session.scalar(select(unpublished & ~opened))


def change_status(
    idea: Idea,
    *,
    actor: User,
    to: str,
    note: str | None = None,
    official_response: str | None = None,
) -> StatusChange:
    """Move the idea along the workflow; illegal moves raise IllegalTransition (409)."""
    ensure(signed_in(actor))
    _lock(idea)  # two curators at once: the second sees the first one's move
    move = find_move(idea.status, to)
    if move is None:
        raise IllegalTransition(
            _(
                "An idea that is %(source)s cannot become %(target)s.",
                source=STATUS_LABELS[idea.status].lower(),
                target=STATUS_LABELS.get(to, to).lower() if isinstance(to, str) else to,
            )
        )
    ensure(move.allowed(actor), _("You may not make this change."))
    note = (note or "").strip() or None
    official_response = (official_response or "").strip() or None
    if move.needs_note and not note:
        raise ValidationFailed(
            _("Say why, so the author and supporters understand."),
            fields={"note": [_("A reason is required.")]},
        )
    change = _move(idea, to, actor=actor, note=note, official_response=official_response)
    db.session.commit()
    return change


def merge_ideas(source: Idea, *, into: Idea, actor: User) -> IdeaMerge:
    """Merge a duplicate into another idea: its supporters (and author) support the target."""
    ensure(can_moderate(actor), _("Only moderators merge ideas."))
    if source.id == into.id:
        raise ValidationFailed(
            _("An idea cannot be merged into itself."), fields={"into": [_("Choose another idea.")]}
        )
    _lock(source, into)
    if source.status not in MERGEABLE:
        raise IllegalTransition(
            _(
                "An idea that is %(status)s cannot be merged.",
                status=STATUS_LABELS[source.status].lower(),
            )
        )
    if into.status in (MERGED, PENDING, DECLINED, REMOVED):
        raise IllegalTransition(
            _("Merge into an open idea instead."), fields={"into": [_("Not open.")]}
        )
    now = utcnow()
    supporter_ids = set(db.session.scalars(select(Vote.voter_id).where(Vote.idea_id == source.id)))
    supporter_ids.add(source.author_id)
    supporter_ids.discard(into.author_id)
    already = (
        set(
            db.session.scalars(
                select(Vote.voter_id).where(
                    Vote.idea_id == into.id, Vote.voter_id.in_(supporter_ids)
                )
            )
        )
        if supporter_ids
        else set()
    )
    moving = sorted(supporter_ids - already)
    if moving:
        db.session.execute(
            insert(Vote),
            [{"idea_id": into.id, "voter_id": voter_id, "created_at": now} for voter_id in moving],
        )
    removed = db.session.execute(delete(Vote).where(Vote.idea_id == source.id)).rowcount
    _change_support(source.id, delta=-removed, recent_delta=0)
    db.session.execute(
        update(Idea)
        .where(Idea.id == source.id)
        .values(recent_vote_count=0)
        .execution_options(synchronize_session=False)
    )
    count = _change_support(into.id, delta=len(moving), recent_delta=len(moving)).vote_count
    source.merged_into_id = into.id
    _move(
        source,
        MERGED,
        actor=actor,
        note=_("Merged into #%(id)d %(title)s", id=into.id, title=into.title),
    )
    merge = IdeaMerge(
        source_id=source.id,
        target_id=into.id,
        actor_id=actor.id,
        moved_votes=len(moving),
        created_at=now,
    )
    db.session.add(merge)
    db.session.flush()
    _reach_milestones(into, count)
    events.idea_merged.send(
        source, target=into, actor=actor, merge=merge, supporter_ids=supporter_ids
    )
    db.session.commit()
    return merge


# --- reading --------------------------------------------------------------------------------


def get_idea(idea_id: int, *, viewer: User | None) -> Idea:
    idea = db.session.get(Idea, idea_id)
    if idea is None or not can_see(viewer, idea):
        raise NotFound(_("No such idea."))
    return idea


@functools.lru_cache(maxsize=2)
def _idea_page_statement(viewer: bool):
    """The query of get_idea_to_show, built once per signed in or out (building cost more than
    running it)."""
    voted = (
        exists()
        .where(Vote.idea_id == Idea.id, Vote.voter_id == bindparam("viewer_id", type_=Integer))
        .label("voted")
        if viewer
        else false().label("voted")
    )
    return (
        select(Idea, voted)
        .outerjoin(idea_tags, idea_tags.c.idea_id == Idea.id)
        .outerjoin(Tag, Tag.id == idea_tags.c.tag_id)
        .where(Idea.id == bindparam("idea_id", type_=Integer))
        .order_by(Tag.name)  # the order of Idea.tags, which contains_eager does not apply
        .options(
            joinedload(Idea.images),
            contains_eager(Idea.tags),
            joinedload(Idea.challenge),
            joinedload(Idea.official_response_by),
            joinedload(Idea.merged_into).options(
                load_only(Idea.title, Idea.status),
                lazyload(Idea.author),
                lazyload(Idea.category),
            ),
        )
    )


def get_idea_to_show(idea_id: int, *, viewer: User | None) -> tuple[Idea, bool]:
    """The idea with everything its page shows, and whether the viewer supports it: one query.

    Its author, category, challenge, pictures, tags, the author of its official response and the
    idea it was merged into are joined; pictures (at most 4) times tags (at most 5) bound the
    rows.

    Every join is flat and by key, so each table is searched by an index. The ORM would nest
    two of them, ``LEFT OUTER JOIN (idea_tags JOIN tags)`` for the tags (a secondary table) and
    ``LEFT OUTER JOIN (ideas JOIN users)`` for the merge target (its author is an inner-joined
    eager relationship), and SQLite materialises a nested join by reading the whole table. So
    the tags are joined by hand (``contains_eager``), and of the merge target only what the page
    shows is loaded, without its author or category.
    """
    params = {"idea_id": idea_id}
    if signed_in(viewer):
        params["viewer_id"] = viewer.id
    row = db.session.execute(_idea_page_statement("viewer_id" in params), params).unique().first()
    if row is None or not can_see(viewer, row[0]):
        raise NotFound(_("No such idea."))
    return row[0], bool(row[1])


def can_see(viewer: User | None, idea: Idea) -> bool:
    if idea.status not in HIDDEN:
        return True
    return signed_in(viewer) and (viewer.id == idea.author_id or can_moderate(viewer))


def can_edit(user: User | None, idea: Idea) -> bool:
    """Authors while their idea is pending or open; moderators always."""
    if not signed_in(user):
        return False
    return can_moderate(user) or (user.id == idea.author_id and idea.status in (PENDING, OPEN))


@dataclass(frozen=True)
class TimelineEntry:
    from_status: str | None
    to_status: str
    note: str | None
    actor_name: str | None
    created_at: datetime


@dataclass(frozen=True)
class MilestoneEntry:
    threshold: int
    reached_at: datetime


@dataclass(frozen=True)
class MergeEntry:
    source_id: int
    source_title: str
    target_id: int
    target_title: str
    moved_votes: int
    actor_name: str | None
    created_at: datetime


@dataclass(frozen=True)
class IdeaHistory:
    timeline: list[TimelineEntry]  # oldest first
    milestones: list[MilestoneEntry]  # lowest first
    merges: list[MergeEntry]  # into or out of the idea, newest first


@functools.lru_cache(maxsize=1)
def _history_statement():
    """The query of history_of, built once (building it cost more than running it).

    The three lists are small and always shown together, so they travel as one UNION ALL of
    rows ``(kind, id, at, text_a, text_b, note, actor, number_x, number_y, number_n)``.
    """
    idea_id = bindparam("idea_id", type_=Integer)
    actor = aliased(User)
    source, target = aliased(Idea), aliased(Idea)
    no_text, no_number = cast(null(), String), cast(null(), Integer)
    changes = (
        select(
            literal_column("'change'", String).label("kind"),
            StatusChange.id,
            StatusChange.created_at.label("at"),
            StatusChange.from_status.label("text_a"),
            StatusChange.to_status.label("text_b"),
            StatusChange.note.label("note"),
            actor.display_name.label("actor"),
            no_number.label("number_x"),
            no_number.label("number_y"),
            no_number.label("number_n"),
        )
        .outerjoin(actor, actor.id == StatusChange.actor_id)
        .where(StatusChange.idea_id == idea_id)
    )
    milestones = select(
        literal_column("'milestone'", String),
        Milestone.id,
        Milestone.reached_at,
        no_text,
        no_text,
        no_text,
        no_text,
        Milestone.threshold,
        no_number,
        no_number,
    ).where(Milestone.idea_id == idea_id)
    merges = (
        select(
            literal_column("'merge'", String),
            IdeaMerge.id,
            IdeaMerge.created_at,
            source.title,
            target.title,
            no_text,
            actor.display_name,
            IdeaMerge.source_id,
            IdeaMerge.target_id,
            IdeaMerge.moved_votes,
        )
        .join(source, source.id == IdeaMerge.source_id)
        .join(target, target.id == IdeaMerge.target_id)
        .outerjoin(actor, actor.id == IdeaMerge.actor_id)
        .where(or_(IdeaMerge.source_id == idea_id, IdeaMerge.target_id == idea_id))
    )
    return union_all(changes, milestones, merges)


def history_of(idea: Idea) -> IdeaHistory:
    """The idea's status changes, milestones and merges, with who made them: one query."""
    rows = db.session.execute(_history_statement(), {"idea_id": idea.id}).all()
    by_kind: dict[str, list] = {"change": [], "milestone": [], "merge": []}
    for row in rows:
        by_kind[row.kind].append(row)
    return IdeaHistory(
        timeline=[
            TimelineEntry(r.text_a, r.text_b, r.note, r.actor, r.at)
            for r in sorted(by_kind["change"], key=lambda r: (r.at, r.id))
        ],
        milestones=[
            MilestoneEntry(r.number_x, r.at)
            for r in sorted(by_kind["milestone"], key=lambda r: r.number_x)
        ],
        merges=[
            MergeEntry(r.number_x, r.text_a, r.number_y, r.text_b, r.number_n, r.actor, r.at)
            for r in sorted(by_kind["merge"], key=lambda r: -r.id)
        ],
    )


def revisions(idea: Idea) -> list[IdeaRevision]:
    return list(
        db.session.scalars(
            select(IdeaRevision)
            .options(joinedload(IdeaRevision.editor))
            .where(IdeaRevision.idea_id == idea.id)
            .order_by(IdeaRevision.id.desc())
        )
    )


SORTS = ("hot", "top", "new", "trending")
LISTED = (OPEN, UNDER_REVIEW, SHORTLISTED, ADOPTED, IN_PRODUCTION, SHIPPED)
PER_PAGE_MAX = 100
# How many matches beyond a page a search ranks first (see list_ideas).
SEARCH_SLACK = 100
PAGE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    display_name: str


@dataclass(frozen=True, slots=True)
class CategoryRef:
    id: int
    name: str
    slug: str
    description: str


@dataclass(frozen=True, slots=True)
class TagRef:
    name: str


@dataclass(frozen=True, slots=True)
class ImageRef:
    path: str
    width: int
    height: int


@dataclass(slots=True)
class IdeaCard:
    """An idea as lists show it: the attributes cards and the JSON list read, as plain values.

    Lists build these from rows instead of ``Idea`` objects: building 30 mapped objects with their
    author, category, tags and pictures took two thirds of a list request (docs/performance.md).
    """

    id: int
    title: str
    body: str
    body_html: str
    status: str
    vote_count: int
    comment_count: int
    challenge_id: int | None
    merged_into_id: int | None
    decline_reason: str | None
    official_response_html: str | None
    created_at: datetime
    updated_at: datetime
    author_id: int
    author: Person
    category: CategoryRef | None
    official_response_by: Person | None
    tags: list[TagRef]
    images: list[ImageRef]


@dataclass(frozen=True)
class IdeaPage:
    items: list[IdeaCard]
    page: int
    per_page: int
    has_next: bool
    sort: str
    supported: set[int]

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _order(sort: str, c, rank=None) -> tuple:
    """The ORDER BY of a sort, on ``c``: the Idea class or a subquery's columns."""
    if sort == "relevance":
        return (c.rank if rank is None else rank, c.id.desc())
    return {
        "hot": (c.hot_score.desc(),),
        "top": (c.vote_count.desc(), c.created_at.desc()),
        "new": (c.created_at.desc(),),
        "trending": (c.recent_vote_count.desc(), c.hot_score.desc()),
    }[sort] + (c.id.desc(),)


def _page_statement(
    dialect: str,
    sort: str,
    *,
    by_status: bool,
    category: bool,
    tag: bool,
    challenge: bool,
    search_: bool,
    viewer: bool,
    capped: bool = False,
    first_page_rows: int | None = None,
):
    """The query of one shape of list page: every value is a bound parameter, but for the
    first page (``first_page_rows``), whose row limit is written into the SQL.

    Building a select with its joins cost more than running it; the shapes are few (sort ×
    which filters are set × signed in or not), so each is built and compiled once per process
    (``_page_query``). The page of
    ideas is chosen first, in a subquery that walks the sort's index and stops at the page's
    end; its authors, categories and the viewer's support are joined to those rows only.

    PostgreSQL plans a statement it has prepared once for any values, unless that plan looks
    worse than planning each time. With the limit a parameter the shared plan cannot know the
    page stops after 31 rows, so the list was planned anew on every request (0.6 ms of its
    1.1); with the first page's limit in the SQL the shared plan serves it (0.45 ms).
    """
    # The subquery carries only what chooses and orders the page: sorting many matches of a
    # search with their whole text was most of its time.
    columns = [Idea.id, Idea.hot_score, Idea.vote_count, Idea.created_at, Idea.recent_vote_count]
    matches = None
    if search_:
        matches = search.ranked_by(
            dialect,
            bindparam("search_match", type_=String),
            bindparam("search_cap", type_=Integer) if capped else None,
        )
        columns.append(matches.c.rank)
    inner = select(*columns)
    if by_status:
        inner = inner.where(Idea.status == bindparam("status", type_=String))
    else:
        # Constants, written into the SQL: an expanding parameter is re-rendered per execution.
        inner = inner.where(Idea.status.in_([literal_column(f"'{name}'") for name in LISTED]))
    if category:
        inner = inner.join(Category, Category.id == Idea.category_id).where(
            Category.slug == bindparam("category", type_=String)
        )
    if tag:
        # Driven from the tag: a rare tag must not walk every idea in sort order.
        inner = (
            inner.join(idea_tags, idea_tags.c.idea_id == Idea.id)
            .join(Tag, Tag.id == idea_tags.c.tag_id)
            .where(Tag.name == bindparam("tag", type_=String))
        )
    if challenge:
        inner = inner.where(Idea.challenge_id == bindparam("challenge", type_=Integer))
    if matches is not None:
        inner = inner.join(matches, matches.c.idea_id == Idea.id)
    ordered = inner.order_by(*_order(sort, Idea, None if matches is None else matches.c.rank))
    if first_page_rows is None:
        ordered = ordered.limit(bindparam("limit", type_=Integer)).offset(
            bindparam("offset", type_=Integer)
        )
    else:
        ordered = ordered.limit(literal_column(str(int(first_page_rows)), Integer))
    page = ordered.subquery("page")
    responder = aliased(User)
    voted = (
        exists()
        .where(Vote.idea_id == page.c.id, Vote.voter_id == bindparam("viewer_id", type_=Integer))
        .label("voted")
        if viewer
        else false().label("voted")
    )
    return (
        select(
            *_CARD_COLUMNS,
            User.display_name,
            Category.id,
            Category.name,
            Category.slug,
            Category.description,
            Idea.official_response_by_id,
            responder.display_name,
            voted,
            _tag_names(dialect),
            _pictures_of(dialect),
        )
        .select_from(page)
        .join(Idea, Idea.id == page.c.id)
        .join(User, User.id == Idea.author_id)
        .outerjoin(Category, Category.id == Idea.category_id)
        .outerjoin(responder, responder.id == Idea.official_response_by_id)
        .order_by(*_order(sort, page.c))
    )


# The first columns of a page's rows, in IdeaCard's order.
_CARD_COLUMNS = (
    Idea.id,
    Idea.title,
    Idea.body,
    Idea.body_html,
    Idea.status,
    Idea.vote_count,
    Idea.comment_count,
    Idea.challenge_id,
    Idea.merged_into_id,
    Idea.decline_reason,
    Idea.official_response_html,
    Idea.created_at,
    Idea.updated_at,
    Idea.author_id,
)


# The tags and pictures of each idea on a page, read with the page's rows: each a text of its
# values joined by control characters, which neither a tag (letters, digits, dashes) nor a
# stored picture's path contains. The database's own aggregate, with the separators as plain
# parameters (SQLAlchemy's aggregate_strings writes them into the SQL on every call).
_UNIT, _RECORD = "\x1f", "\x1e"


def _joined(dialect: str, value, name: str):
    aggregate = func.string_agg if dialect == "postgresql" else func.group_concat
    return aggregate(value, bindparam(f"{name}_unit", _UNIT, type_=String))


def _tag_names(dialect: str):
    return (
        select(_joined(dialect, Tag.name, "tags"))
        .select_from(idea_tags)
        .join(Tag, Tag.id == idea_tags.c.tag_id)
        .where(idea_tags.c.idea_id == Idea.id)
        .scalar_subquery()
        .label("tag_names")
    )


def _pictures_of(dialect: str):
    record = bindparam("picture_record", _RECORD, type_=String)
    fields = (
        cast(IdeaImage.position, String)
        + record
        + cast(IdeaImage.width, String)
        + record
        + cast(IdeaImage.height, String)
        + record
        + IdeaImage.path
    )
    return (
        select(_joined(dialect, fields, "pictures"))
        .where(IdeaImage.idea_id == Idea.id)
        .scalar_subquery()
        .label("pictures")
    )


def _pictures(text: str | None) -> list[ImageRef]:
    if not text:
        return []
    pictures = []
    for record in text.split(_UNIT):
        position, width, height, path = record.split(_RECORD, 3)
        pictures.append((int(position), ImageRef(path, int(width), int(height))))
    pictures.sort(key=lambda picture: picture[0])  # by position, as Idea.images orders them
    return [picture for _position, picture in pictures]


@functools.lru_cache(maxsize=512)
def _page_query(dialect: str, sort: str, **shape) -> PreparedQuery:
    """``_page_statement`` compiled for this process's database."""
    return PreparedQuery(_page_statement(dialect, sort, **shape), db.session.get_bind().dialect)


def _cards(rows) -> list[IdeaCard]:
    """Cards from a page's rows, as the driver returned them (see ``PreparedQuery``)."""
    return [
        IdeaCard(
            *row[:11],
            as_utc(row[11]),  # created_at
            as_utc(row[12]),  # updated_at
            row[13],
            Person(row.author_id, row.display_name),
            None if row[15] is None else CategoryRef(row[15], row[16], row[17], row[18]),
            None if row[19] is None else Person(row[19], row[20]),
            # Tags by name, as the Idea relationship orders them.
            [TagRef(name) for name in sorted(row.tag_names.split(_UNIT))] if row.tag_names else [],
            _pictures(row.pictures),
        )
        for row in rows
    ]


def list_ideas(
    *,
    viewer: User | None,
    sort: str | None = None,
    q: str | None = None,
    category: str | None = None,
    tag: str | None = None,
    status: str | None = None,
    challenge: int | None = None,
    page: int = 1,
    per_page: int = 30,
) -> IdeaPage:
    """One page of ideas: one query whatever the page size (two on a search's last page).

    Without a status filter the list shows ideas that are live or done (not pending, declined
    or merged). With a search and no explicit sort, the best matches come first.
    """
    page = min(max(int(page or 1), 1), PAGE_MAX)
    per_page = min(max(int(per_page or 30), 1), PER_PAGE_MAX)
    q = (q or "").strip()
    if sort not in SORTS:
        if sort not in (None, "", "relevance"):
            raise ValidationFailed(
                _("Sort by hot, top, new or trending."),
                fields={"sort": [_("One of: hot, top, new, trending.")]},
            )
        sort = "relevance" if q else "hot"
    params: dict[str, object] = {"limit": per_page + 1, "offset": (page - 1) * per_page}
    if status:
        if status not in STATUS_LABELS:
            raise ValidationFailed(_("Unknown status."), fields={"status": [_("Unknown.")]})
        if status == PENDING and not can_moderate(viewer):
            raise Forbidden(_("Only moderators see ideas awaiting moderation."))
        if status == REMOVED and not can_moderate(viewer):
            raise Forbidden(_("Only moderators see ideas removed as spam."))
        params["status"] = status
    if category:
        params["category"] = category
    if tag:
        params["tag"] = tag.strip().lower()
    if challenge:
        if not 1 <= int(challenge) <= 2**31 - 1:
            raise ValidationFailed(_("No such challenge."), fields={"challenge": [_("Unknown.")]})
        params["challenge"] = int(challenge)
    dialect = db.session.get_bind().dialect.name
    if q:
        params["search_match"] = search.match_text(q, dialect)
        if params["search_match"] is None:
            return IdeaPage([], page, per_page, False, sort, set())
    elif sort == "relevance":
        sort = "hot"
    if signed_in(viewer):
        params["viewer_id"] = viewer.id
    shape = {
        "by_status": bool(status),
        "category": bool(category),
        "tag": bool(tag),
        "challenge": bool(challenge),
        "search_": bool(q),
        "viewer": "viewer_id" in params,
    }
    rows = None
    if sort == "relevance":
        # Ranked first among only the best matches, enough for this page and more: a common
        # word matches thousands of ideas, and reading each to check its status was most of a
        # search. When the best matches do not fill the page (the last page, or many of them
        # not listed), the search runs again over every match.
        params["search_cap"] = params["offset"] + per_page + 1 + SEARCH_SLACK
        capped = _page_query(dialect, sort, capped=True, **shape)
        rows = capped.execute(db.session.connection(), params).all()
        if len(rows) <= per_page:
            rows = None
    if rows is None:
        if page == 1:
            shape["first_page_rows"] = params["limit"]
        rows = _page_query(dialect, sort, **shape).execute(db.session.connection(), params).all()
    shown = rows[:per_page]
    return IdeaPage(
        _cards(shown),
        page,
        per_page,
        len(rows) > per_page,
        sort,
        {row.id for row in shown if row.voted},
    )


def similar_ideas(
    text: str, *, limit: int = 5, exclude_id: int | None = None, with_tags: bool = False
) -> list[Idea]:
    """Ideas that look like ``text`` (a title being typed), best match first."""
    matches = search.ranked(text, any_word=True)
    if matches is None:
        return []
    stmt = (
        select(Idea)
        .join(matches, matches.c.idea_id == Idea.id)
        .where(Idea.status.not_in((*HIDDEN, MERGED)))
        .order_by(matches.c.rank, Idea.vote_count.desc())
        .limit(limit)
    )
    if exclude_id:
        stmt = stmt.where(Idea.id != exclude_id)
    if with_tags:
        stmt = stmt.options(selectinload(Idea.tags))
    return list(db.session.scalars(stmt).unique())


# --- challenges and categories --------------------------------------------------------------


def create_challenge(
    actor: User,
    *,
    title: str,
    brief: str,
    opens_at: datetime,
    closes_at: datetime,
    category_id: int | None = None,
    bonus_points: int | None = None,
    cover_upload=None,
) -> Challenge:
    ensure(is_product_team(actor), _("Only the product team publishes challenges."))
    title = _clean_title(title)
    brief = _clean_body(brief)
    if opens_at.tzinfo is None or closes_at.tzinfo is None:
        raise ValidationFailed(_("Give dates with a time zone."), fields={"opens_at": ["UTC"]})
    if closes_at <= opens_at:
        raise ValidationFailed(
            _("A challenge must close after it opens."),
            fields={"closes_at": [_("After the opening date.")]},
        )
    if bonus_points is not None and not 0 <= int(bonus_points) <= 1_000_000:
        raise ValidationFailed(
            _("The bonus is between 0 and 1,000,000 points."),
            fields={"bonus_points": [_("0 to 1,000,000.")]},
        )
    if cover_upload:
        release_write_lock()
    cover = images.process_upload(cover_upload) if cover_upload else None
    challenge = Challenge(
        title=title,
        brief=brief,
        brief_html=render_markdown(brief),
        opens_at=opens_at,
        closes_at=closes_at,
        category=_category(category_id),
        bonus_points=bonus_points,
        created_by_id=actor.id,
    )
    db.session.add(challenge)
    db.session.flush()
    saved = []
    if cover:
        saved = [images.save(cover, f"challenges/{challenge.id}")]
        challenge.cover_image = saved[0]
    try:
        db.session.commit()
    except BaseException:
        images.discard(saved)
        raise
    return challenge


def close_due_challenges(now: datetime | None = None) -> list[Challenge]:
    """Close challenges past their closing time: pick the winner and announce each once."""
    now = now or utcnow()
    due = list(
        db.session.scalars(
            select(Challenge)
            .where(Challenge.closes_at <= now, Challenge.closed_at.is_(None))
            .with_for_update(of=Challenge)
        )
    )
    for challenge in due:
        challenge.winner_idea_id = db.session.scalar(
            select(Idea.id)
            .where(
                Idea.challenge_id == challenge.id,
                Idea.status.not_in((*HIDDEN, MERGED, DECLINED)),
            )
            .order_by(Idea.vote_count.desc(), Idea.created_at, Idea.id)
            .limit(1)
        )
        challenge.closed_at = now
        db.session.flush()
        events.challenge_closed.send(challenge)
    db.session.commit()
    return due


def open_challenges(now: datetime | None = None, *, limit: int | None = None) -> list[Challenge]:
    """Challenges taking ideas now (the ``limit`` first), the soonest to close first."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(Challenge)
            .where(Challenge.opens_at <= now, Challenge.closes_at > now)
            .order_by(Challenge.closes_at, Challenge.id)
            .limit(limit)
        )
    )


def list_challenges() -> list[Challenge]:
    return list(db.session.scalars(select(Challenge).order_by(Challenge.closes_at.desc())))


_CATEGORY_ORDER = (Category.position, Category.name)


def list_categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(*_CATEGORY_ORDER)))


def category_refs() -> list[CategoryRef]:
    """The categories as filters offer them, in order: plain values, no mapped objects."""
    columns = (Category.id, Category.name, Category.slug, Category.description)
    rows = db.session.execute(select(*columns).order_by(*_CATEGORY_ORDER))
    return [CategoryRef(*row) for row in rows]


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "category"


def create_category(actor: User, *, name: str, description: str = "") -> Category:
    ensure(can_manage_categories(actor), _("Only admins manage categories."))
    name = " ".join((name or "").split())
    if not 2 <= len(name) <= 60:
        raise ValidationFailed(
            _("Name the category in 2 to 60 characters."),
            fields={"name": [_("Between 2 and 60 characters.")]},
        )
    slug = _slugify(name)
    if db.session.scalar(select(exists().where((Category.name == name) | (Category.slug == slug)))):
        raise Conflict(
            _("That category exists already."),
            code="category_exists",
            fields={"name": [_("Already exists.")]},
        )
    position = db.session.scalar(select(func.coalesce(func.max(Category.position), 0))) + 1
    category = Category(
        name=name, slug=slug, description=(description or "").strip()[:300], position=position
    )
    db.session.add(category)
    db.session.commit()
    return category


def delete_category(category: Category, *, actor: User) -> None:
    ensure(can_manage_categories(actor), _("Only admins manage categories."))
    in_use = db.session.scalar(
        select(exists().where(Idea.category_id == category.id))
    ) or db.session.scalar(select(exists().where(Challenge.category_id == category.id)))
    if in_use:
        raise Conflict(
            _("Ideas or challenges use this category; it cannot be deleted."),
            code="category_in_use",
        )
    db.session.delete(category)
    db.session.flush()
    events.category_deleted.send(category)
    db.session.commit()


# --- maintenance ----------------------------------------------------------------------------


def rescore_ideas(batch_size: int = 5_000) -> int:
    """Recount supporters of the last seven days and recompute hot scores; the ideas touched."""
    cutoff = utcnow() - RECENT_WINDOW
    recent = (
        select(func.count(Vote.id))
        .where(Vote.idea_id == Idea.id, Vote.created_at >= cutoff)
        .scalar_subquery()
    )
    db.session.execute(
        update(Idea).values(recent_vote_count=recent).execution_options(synchronize_session=False)
    )
    touched, last_id = 0, 0
    while True:
        rows = db.session.execute(
            select(Idea.id, Idea.vote_count, Idea.created_at)
            .where(Idea.id > last_id)
            .order_by(Idea.id)
            .limit(batch_size)
        ).all()
        if not rows:
            break
        db.session.execute(
            update(Idea),
            [{"id": r.id, "hot_score": hot_score(r.vote_count, r.created_at)} for r in rows],
        )
        touched += len(rows)
        last_id = rows[-1].id
    db.session.commit()
    return touched
