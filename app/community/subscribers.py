"""How the community hears the rest of the site: follows, notifications and the feed.

Each subscriber runs inside the publisher's transaction and does not commit.
"""

from __future__ import annotations

from flask_babel import gettext as _

from app.community import services
from app.ideas.workflow import STATUS_LABELS
from app.web import path_for


def _idea_url(idea, comment_id: int | None = None) -> str:
    """An idea's page; for a comment, opened at its branch (even in a long conversation)."""
    if comment_id:
        return path_for("ideas.detail", idea_id=idea.id, comment=comment_id) + (
            f"#comment-{comment_id}"
        )
    return path_for("ideas.detail", idea_id=idea.id)


def _idea_submitted(idea, *, author, **extra) -> None:
    services._follow(author.id, "idea", idea.id)


def _idea_published(idea, **extra) -> None:
    audience = services.followers("user", idea.author_id)
    if idea.category_id:
        audience |= services.followers("category", idea.category_id)
    if idea.challenge_id:
        audience |= services.followers("challenge", idea.challenge_id)
    audience.discard(idea.author_id)
    services.notify(
        audience,
        kind="new_idea",
        actor=idea.author,
        text=_(
            "New idea from %(name)s: “%(title)s”", name=idea.author.display_name, title=idea.title
        ),
        url=_idea_url(idea),
        idea_id=idea.id,
        challenge_id=idea.challenge_id,
    )
    services.record_activity(
        "idea_published",
        actor_id=idea.author_id,
        idea=idea,
        text=_("%(name)s shared “%(title)s”", name=idea.author.display_name, title=idea.title),
    )


def _vote_cast(idea, *, voter, **extra) -> None:
    services._follow(voter.id, "idea", idea.id)


def _status_changed(idea, *, change, actor, official_response=None, **extra) -> None:
    if change.to_status == "removed":
        _removed(idea, change=change, actor=actor)
        return
    label = STATUS_LABELS[change.to_status]
    if official_response:
        text = _(
            "“%(title)s” is now %(status)s, with an official response",
            title=idea.title,
            status=str(label).lower(),
        )
    else:
        text = _("“%(title)s” is now %(status)s", title=idea.title, status=str(label).lower())
    services.notify(
        services.followers("idea", idea.id),
        kind="official_response" if official_response else "status",
        actor=actor,
        text=text,
        url=_idea_url(idea),
        idea_id=idea.id,
    )
    if change.to_status in ("under_review", "shortlisted", "adopted", "in_production", "shipped"):
        services.record_activity(
            "status_changed", actor_id=actor.id if actor else None, idea=idea, text=text
        )


def _removed(idea, *, change, actor) -> None:
    """Spam: only its author hears why (its followers could no longer open it), and it leaves
    the activity feed, which everyone reads. A restored idea does not get its old entries back."""
    from sqlalchemy import delete

    from app.community.models import Activity
    from app.extensions import db

    services.notify(
        {idea.author_id},
        kind="status",
        actor=actor,
        text=_(
            "Your idea “%(title)s” was removed as spam: %(reason)s",
            title=idea.title,
            reason=change.note,
        ),
        url=_idea_url(idea),
        idea_id=idea.id,
    )
    db.session.execute(delete(Activity).where(Activity.idea_id == idea.id))


def _merged(source, *, target, actor, supporter_ids, **extra) -> None:
    audience = set(supporter_ids) | services.followers("idea", source.id) | {source.author_id}
    services._move_followers(source.id, target.id)
    services.notify(
        audience,
        kind="merge",
        actor=actor,
        text=_(
            "“%(source)s” was merged into “%(target)s”; your support moved with it",
            source=source.title,
            target=target.title,
        ),
        url=_idea_url(target),
        idea_id=target.id,
    )


def _milestone(idea, *, milestone, **extra) -> None:
    text = _("“%(title)s” reached %(n)d supporters", title=idea.title, n=milestone.threshold)
    services.notify(
        services.followers("idea", idea.id),
        kind="milestone",
        actor=None,
        text=text,
        url=_idea_url(idea),
        idea_id=idea.id,
    )
    services.record_activity("milestone", idea=idea, text=text)


def _challenge_closed(challenge, **extra) -> None:
    services.record_activity(
        "challenge_closed",
        challenge_id=challenge.id,
        text=_("The challenge “%(title)s” has closed", title=challenge.title),
    )


def _comment_posted(comment, *, author, parent, mentioned, **extra) -> None:
    from app.extensions import db
    from app.ideas.models import Idea

    idea = db.session.get(Idea, comment.idea_id) if comment.idea_id else None
    if idea is not None:
        services._follow(author.id, "idea", idea.id)
        url, where = _idea_url(idea, comment.id), idea.title
    else:
        url = path_for("ideas.challenge", challenge_id=comment.challenge_id) + (
            f"#comment-{comment.id}"
        )
        where = _("a challenge")
    mentioned_ids = {user.id for user in mentioned}
    if parent is not None and parent.author_id not in mentioned_ids:
        services.notify(
            {parent.author_id},
            kind="reply",
            actor=author,
            text=_("%(name)s replied to you on “%(where)s”", name=author.display_name, where=where),
            url=url,
            idea_id=comment.idea_id,
            challenge_id=comment.challenge_id,
            comment_id=comment.id,
        )
    services.notify(
        mentioned_ids,
        kind="mention",
        actor=author,
        text=_("%(name)s mentioned you on “%(where)s”", name=author.display_name, where=where),
        url=url,
        idea_id=comment.idea_id,
        challenge_id=comment.challenge_id,
        comment_id=comment.id,
    )


def _category_deleted(category, **extra) -> None:
    """Follows name their target by id only: a new category must not inherit old followers."""
    from sqlalchemy import delete

    from app.community.models import Follow
    from app.extensions import db

    db.session.execute(
        delete(Follow).where(Follow.kind == "category", Follow.target_id == category.id)
    )


def _suspended(user, *, actor, reason, until, **extra) -> None:
    from flask_babel import format_datetime

    if until is None:
        text = _("Your account is suspended until a moderator lifts it: %(reason)s", reason=reason)
    else:
        text = _(
            "Your account is suspended until %(until)s: %(reason)s",
            until=format_datetime(until, "medium"),
            reason=reason,
        )
    services.notify(
        [user.id], kind="account", actor=actor, text=text, url=path_for("accounts.account")
    )


def _unsuspended(user, *, actor, **extra) -> None:
    services.notify(
        [user.id],
        kind="account",
        actor=actor,
        text=_("Your suspension was lifted: welcome back."),
        url=path_for("ideas.index"),
    )


def connect() -> None:
    from app.accounts import events as accounts
    from app.community import events as community
    from app.ideas import events as ideas

    accounts.user_suspended.connect(_suspended)
    accounts.user_unsuspended.connect(_unsuspended)

    ideas.idea_submitted.connect(_idea_submitted)
    ideas.idea_published.connect(_idea_published)
    ideas.vote_cast.connect(_vote_cast)
    ideas.idea_status_changed.connect(_status_changed)
    ideas.idea_merged.connect(_merged)
    ideas.milestone_reached.connect(_milestone)
    ideas.challenge_closed.connect(_challenge_closed)
    ideas.category_deleted.connect(_category_deleted)
    community.comment_posted.connect(_comment_posted)
