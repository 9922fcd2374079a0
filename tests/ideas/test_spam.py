"""Moderators remove ideas as spam: hidden from everyone but the author, points taken back."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from app.errors import DomainError, ValidationFailed
from app.ideas import events
from app.ideas import services as ideas
from app.ideas.models import Challenge, StatusChange
from app.rewards import services as rewards
from app.rewards.models import LedgerEntry
from tests.factories import make_challenge, make_idea, make_member


def moderator():
    return make_member(roles=("moderator",))


def spam(author=None, **overrides):
    """A published idea with two supporters: its author earned 10 + 2 points."""
    author = author or make_member()
    idea = make_idea(author, title="Cheap pills, best prices", **overrides)
    events.idea_published.send(idea, actor=None)
    for _ in range(2):
        ideas.cast_vote(idea, voter=make_member())
    return author, idea


def remove(idea, actor=None):
    return ideas.change_status(
        idea, actor=actor or moderator(), to="removed", note="Advertising, not an idea"
    )


def test_removing_an_idea_as_spam_takes_back_what_it_paid(db):
    author, idea = spam()
    assert rewards.balance_of(author) == 12
    remove(idea)
    assert rewards.balance_of(author) == 0
    assert rewards.verify() == []
    reversals = db.session.scalars(
        select(LedgerEntry.note).where(LedgerEntry.user_id == author.id, LedgerEntry.amount < 0)
    ).all()
    assert reversals == ["An idea was removed as spam"] * 3


def test_the_removal_delivered_twice_takes_back_once(db):
    author, idea = spam()
    remove(idea)
    [change] = db.session.scalars(select(StatusChange).where(StatusChange.to_status == "removed"))
    events.idea_status_changed.send(idea, change=change, actor=None, official_response=None)
    db.session.commit()
    entries = db.session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.user_id == author.id)
    )
    assert entries == 6  # three payments, three reversals
    assert rewards.balance_of(author) == 0


def test_points_already_spent_stay_spent(db):
    author, idea = spam()
    mug = rewards.create_item(make_member(roles=("product",)), name="Mug", cost=7)
    rewards.redeem(author, mug.id)
    assert rewards.balance_of(author) == 5
    remove(idea)
    assert rewards.balance_of(author) == 0  # never below zero
    assert rewards.verify() == []


def test_only_moderators_remove_and_they_say_why(db):
    _author, idea = spam()
    with pytest.raises(DomainError):
        ideas.change_status(idea, actor=make_member(), to="removed", note="Spam")
    with pytest.raises(ValidationFailed):
        ideas.change_status(idea, actor=moderator(), to="removed", note="  ")
    db.session.refresh(idea)
    assert idea.status == "open"


def test_an_adopted_idea_cannot_be_removed_as_spam(db):
    idea = make_idea(status="adopted")
    with pytest.raises(DomainError):
        remove(idea)


def test_a_removed_idea_is_hidden_from_everyone_but_its_author_and_moderators(
    client, db, login, api_token
):
    author, idea = spam()
    remove(idea)
    assert client.get(f"/ideas/{idea.id}").status_code == 404
    assert client.get(f"/api/v1/ideas/{idea.id}").status_code == 404
    assert "Cheap pills" not in client.get("/ideas").get_data(as_text=True)
    assert client.get("/api/v1/ideas?q=pills").get_json()["items"] == []
    assert client.get("/api/v1/ideas?status=removed").status_code == 403
    voter = {"Authorization": f"Bearer {api_token(make_member())}"}
    assert client.put(f"/api/v1/ideas/{idea.id}/vote", headers=voter).status_code == 404

    login(author)
    page = client.get(f"/ideas/{idea.id}").get_data(as_text=True)
    assert "Removed as spam" in page
    assert "Advertising, not an idea" in page


def test_moderators_find_removed_ideas(client, db, api_token):
    _author, idea = spam()
    remove(idea)
    headers = {"Authorization": f"Bearer {api_token(moderator())}"}
    listed = client.get("/api/v1/ideas?status=removed", headers=headers).get_json()["items"]
    assert [item["id"] for item in listed] == [idea.id]


def test_a_challenge_stops_counting_a_removed_idea(db):
    challenge = make_challenge()
    _author, idea = spam(challenge_id=challenge.id)
    db.session.execute(update(Challenge).where(Challenge.id == challenge.id).values(idea_count=1))
    db.session.commit()
    remove(idea)
    db.session.refresh(challenge)
    assert challenge.idea_count == 0


def test_removing_through_the_api_needs_a_note(client, db, api_token):
    _author, idea = spam()
    headers = {"Authorization": f"Bearer {api_token(moderator())}"}
    path = f"/api/v1/ideas/{idea.id}/status"
    missing = client.post(path, json={"status": "removed"}, headers=headers)
    assert missing.status_code == 422
    done = client.post(path, json={"status": "removed", "note": "Spam"}, headers=headers)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["status"] == "removed"
