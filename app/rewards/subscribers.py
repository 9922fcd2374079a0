"""How participation pays: the ideas and community events, turned into ledger entries and badges.

Every key names the event it pays for, so an event delivered twice pays once, and a reversal
names the key it undoes. No points for acting on one's own content.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from app.community import services as community
from app.extensions import db
from app.ideas.models import Challenge, Idea
from app.rewards import badges, services
from app.web import path_for

CONVERSATIONS_FOR_THE_BADGE = 10


def _pay_author(idea, code: str, key: str) -> None:
    """Pay the idea's author the rule ``code``, once per ``key``."""
    services.earn(idea.author_id, code, key=key, source_kind="idea", source_id=idea.id)


def _idea_published(idea, **extra) -> None:
    _pay_author(idea, "idea_published", f"idea_published:{idea.id}")
    published = badges.published_ideas(idea.author_id)
    if published >= 1:
        badges.award(idea.author_id, "first_idea")
    if published >= 10:
        badges.award(idea.author_id, "ten_ideas")


def _vote_cast(idea, *, voter, **extra) -> None:
    _pay_author(idea, "supporter", f"supporter:{idea.id}:{voter.id}")


def _vote_withdrawn(idea, *, voter, **extra) -> None:
    services.reverse(f"supporter:{idea.id}:{voter.id}", note="A supporter withdrew")


def _status_changed(idea, *, change, **extra) -> None:
    if change.to_status == "removed":
        services.reverse_paid_for_idea(idea.id, note="An idea was removed as spam")
        _reverse_challenge_bonus(idea)
        return
    if change.to_status in ("shortlisted", "adopted"):
        _pay_author(idea, change.to_status, f"{change.to_status}:{idea.id}")
    if change.to_status == "adopted":
        badges.award(idea.author_id, "adopted_creator")


def _reverse_challenge_bonus(idea) -> None:
    """A challenge won by spam takes its bonus back (paid for the challenge, not the idea, so
    ``reverse_paid_for_idea`` does not see it). The badge stays, as every badge does."""
    if idea.challenge_id is None:
        return
    challenge = db.session.get(Challenge, idea.challenge_id)
    if challenge is not None and challenge.winner_idea_id == idea.id:
        services.reverse(
            f"challenge_winner:{challenge.id}", note="A winning idea was removed as spam"
        )


def _milestone(idea, *, milestone, **extra) -> None:
    _pay_author(idea, "milestone", f"milestone:{idea.id}:{milestone.threshold}")
    if milestone.threshold >= 100:
        badges.award(idea.author_id, "hundred_supporters")


def _challenge_closed(challenge, **extra) -> None:
    if challenge.winner_idea_id is None:
        return
    winner = db.session.get(Idea, challenge.winner_idea_id)
    badges.award(winner.author_id, "challenge_winner")
    if challenge.bonus_points:
        services.earn(
            winner.author_id,
            "challenge_winner",
            key=f"challenge_winner:{challenge.id}",
            source_kind="challenge",
            source_id=challenge.id,
            amount=challenge.bonus_points,
        )


def _comment_posted(comment, *, author, **extra) -> None:
    if comment.idea_id is not None:
        idea = db.session.get(Idea, comment.idea_id)
        if idea is not None and idea.author_id == author.id:
            return  # talking on one's own idea earns nothing
    paid = services.earn_counting(
        author.id,
        "comment",
        key=f"comment:{comment.id}",
        up_to=CONVERSATIONS_FOR_THE_BADGE,
        source_kind="comment",
        source_id=comment.id,
    )
    # Entries are never removed (a reversal is an entry of its own), so the count is exactly
    # ten once, in the transaction that pays the tenth paid comment.
    if paid == CONVERSATIONS_FOR_THE_BADGE:
        badges.award(author.id, "conversationalist")


def _comment_deleted(comment, **extra) -> None:
    services.reverse(f"comment:{comment.id}", note="A comment was removed")


def _production_request_created(request, **extra) -> None:
    services.pay_royalty(
        run_id=request.id, idea_id=request.idea_id, revenue_cents=request.confirmed_revenue_cents
    )


def _preorder_placed(preorder, **extra) -> None:
    if 1 <= preorder.backer_number <= current_app.config["REWARD_EARLY_BACKERS"]:
        badges.award(preorder.user_id, "early_backer")


def _redemption_decided(redemption, *, actor, **extra) -> None:
    name = redemption.item.name
    if redemption.status == "fulfilled":
        text = _("Your reward “%(name)s” is on its way.", name=name)
    elif actor.id == redemption.user_id:
        return  # they cancelled it themselves
    else:
        text = _(
            "Your reward “%(name)s” was cancelled and its %(points)s points returned.",
            name=name,
            points=redemption.cost,
        )
    if redemption.staff_note:
        # A notification holds 300 characters: the note (a tracking number) is cut, with a
        # mark, rather than lost; My rewards shows it whole.
        room = 300 - len(text) - 1
        note = redemption.staff_note
        if len(note) > room:
            note = note[: max(room - 1, 0)] + "…"
        text = f"{text} {note}".strip()
    community.notify(
        [redemption.user_id], kind="reward", actor=actor, text=text, url=path_for("rewards.mine")
    )


def _points_granted(entry, *, actor, user, **extra) -> None:
    if entry.amount > 0:
        text = _(
            "You received %(points)s points: %(reason)s", points=entry.amount, reason=entry.note
        )
    else:
        text = _(
            "%(points)s points were deducted: %(reason)s", points=-entry.amount, reason=entry.note
        )
    community.notify(
        [user.id], kind="reward", actor=actor, text=text, url=path_for("rewards.points")
    )


def connect() -> None:
    from app.community import events as community_events
    from app.ideas import events as ideas
    from app.production import events as production
    from app.rewards import events

    ideas.idea_published.connect(_idea_published)
    ideas.vote_cast.connect(_vote_cast)
    ideas.vote_withdrawn.connect(_vote_withdrawn)
    ideas.idea_status_changed.connect(_status_changed)
    ideas.milestone_reached.connect(_milestone)
    ideas.challenge_closed.connect(_challenge_closed)
    community_events.comment_posted.connect(_comment_posted)
    community_events.comment_deleted.connect(_comment_deleted)
    production.production_request_created.connect(_production_request_created)
    production.preorder_placed.connect(_preorder_placed)
    events.redemption_decided.connect(_redemption_decided)
    events.points_granted.connect(_points_granted)
