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
        ideas.cast_vote(idea.id, voter=make_member())
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


# --- restoring, counters, what else the removal touches --------------------------------------


def restore(idea, actor=None):
    return ideas.change_status(idea, actor=actor or moderator(), to="open")


def test_a_restored_idea_is_open_and_what_was_taken_back_stays_taken_back(db):
    author, idea = spam()
    remove(idea)
    restore(idea)
    assert idea.status == "open"
    assert rewards.balance_of(author) == 0  # the keys it was paid under are spent
    ideas.cast_vote(idea.id, voter=make_member())
    assert rewards.balance_of(author) == 1  # a new supporter pays as usual
    assert rewards.verify() == []


def test_only_moderators_restore_a_removed_idea(db):
    _author, idea = spam()
    remove(idea)
    with pytest.raises(DomainError):
        restore(idea, actor=make_member(roles=("product",)))
    db.session.refresh(idea)
    assert idea.status == "removed"


def test_restoring_an_idea_removed_from_the_queue_publishes_it(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "IDEAS_PREMODERATION", True)
    author = make_member()
    idea = ideas.submit_idea(author, title="A real idea after all", body="Honest.")
    remove(idea)
    published = []
    with events.idea_published.connected_to(lambda sender, **kw: published.append(sender.id)):
        restore(idea)
    assert published == [idea.id]
    assert rewards.balance_of(author) == 10  # never paid before: published now


def submit_in(challenge, app, monkeypatch, *, queued: bool):
    monkeypatch.setitem(app.config, "IDEAS_PREMODERATION", queued)
    return ideas.submit_idea(
        make_member(), title="An idea in the challenge", body="x", challenge_id=challenge.id
    )


@pytest.mark.parametrize(
    ("queued", "steps", "counts"),
    [
        (False, ["removed", "open", "removed"], [0, 1, 0]),
        (True, ["removed", "open"], [0, 1]),
        (True, ["declined", "removed", "open"], [0, 0, 1]),
        (True, ["open", "declined", "removed", "open"], [1, 1, 0, 1]),
    ],
)
def test_a_challenge_counts_its_published_ideas_exactly_through_removals(
    app, db, monkeypatch, queued, steps, counts
):
    challenge = make_challenge()
    idea = submit_in(challenge, app, monkeypatch, queued=queued)
    db.session.refresh(challenge)
    assert challenge.idea_count == (0 if queued else 1)
    seen = []
    for status in steps:
        ideas.change_status(idea, actor=moderator(), to=status, note="Because")
        db.session.refresh(challenge)
        seen.append(challenge.idea_count)
    assert seen == counts


def test_a_removed_idea_refuses_votes_even_from_those_who_see_it(client, db, api_token):
    _author, idea = spam()
    remove(idea)
    headers = {"Authorization": f"Bearer {api_token(moderator())}"}
    response = client.put(f"/api/v1/ideas/{idea.id}/vote", headers=headers)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "voting_closed"
    assert error["message"] == "Ideas that are removed as spam cannot be supported."


def test_moderators_remove_spam_from_the_idea_page_without_javascript(client, db, login):
    _author, idea = spam()
    login(moderator())
    page = client.get(f"/ideas/{idea.id}").get_data(as_text=True)
    assert "Remove as spam" in page
    assert 'name="status" value="removed"' in page
    refused = client.post_form(f"/ideas/{idea.id}/status", {"status": "removed", "note": ""})
    assert refused.status_code == 302
    db.session.refresh(idea)
    assert idea.status == "open"
    done = client.post_form(
        f"/ideas/{idea.id}/status", {"status": "removed", "note": "Advertising"}
    )
    assert done.status_code == 302
    db.session.refresh(idea)
    assert idea.status == "removed"


def test_the_product_team_is_not_offered_spam_removal(client, db, login):
    _author, idea = spam()
    login(make_member(roles=("product",)))
    page = client.get(f"/ideas/{idea.id}").get_data(as_text=True)
    assert "Start review" in page
    assert "Remove as spam" not in page


def test_the_author_reads_why_the_idea_was_removed(client, db, login):
    author, idea = spam()
    remove(idea)
    login(author)
    page = client.get(f"/ideas/{idea.id}").get_data(as_text=True)
    assert "A moderator removed this idea as spam." in page
    assert '<p class="mb-0 cc-prewrap">Advertising, not an idea</p>' in page


def test_only_the_author_hears_of_the_removal_and_the_feed_forgets_the_idea(db):
    from app.community import services as community
    from app.community.models import Notification

    author, idea = spam()  # its two supporters follow it
    assert [a.idea_id for a in community.feed()] == [idea.id]
    remove(idea)
    told = db.session.execute(
        select(Notification.recipient_id, Notification.text).where(Notification.kind == "status")
    ).all()
    assert told == [
        (
            author.id,
            "Your idea “Cheap pills, best prices” was removed as spam: Advertising, not an idea",
        )
    ]
    assert community.feed() == []


def test_a_challenge_won_by_spam_takes_its_bonus_back_and_hides_the_winner(client, db):
    from app.rewards import badges

    challenge = make_challenge(bonus_points=100)
    author, idea = spam(challenge_id=challenge.id)
    ideas.close_due_challenges(challenge.closes_at)
    assert rewards.balance_of(author) == 112
    remove(idea)
    assert rewards.balance_of(author) == 0
    assert rewards.verify() == []
    assert [badge.code for badge, _at in badges.badges_of(author.id)] == [
        "first_idea",
        "challenge_winner",
    ]  # badges record what happened: they stay
    page = client.get(f"/challenges/{challenge.id}").get_data(as_text=True)
    assert "Winning idea" not in page


@pytest.mark.parametrize("supporters", [3, 40])
def test_taking_back_a_popular_ideas_points_costs_the_same_whatever_its_support(
    db, count_queries, supporters
):
    author = make_member()
    idea = make_idea(author, title="Cheap pills, best prices")
    events.idea_published.send(idea, actor=None)
    voters = [make_member() for _ in range(supporters)]
    for voter in voters:
        ideas.cast_vote(idea.id, voter=voter)
    ideas.withdraw_vote(idea.id, voter=voters[0])  # that payment is undone already
    payments = db.session.scalar(
        select(func.count())
        .select_from(LedgerEntry)
        .where(LedgerEntry.user_id == author.id, LedgerEntry.amount > 0)
    )
    assert rewards.balance_of(author) > 0
    mod = moderator()
    db.session.commit()

    with count_queries() as statements:
        remove(idea, actor=mod)

    assert rewards.balance_of(author) == 0
    assert rewards.verify() == []
    reversals = db.session.scalar(
        select(func.count())
        .select_from(LedgerEntry)
        .where(LedgerEntry.note == "An idea was removed as spam")
    )
    assert reversals == payments - 1  # all but the withdrawn supporter's, undone before
    # 16 at either size (was 3 more per supporter: 139 for 40)
    assert statements() <= 16, "the removal reads or writes per supporter"
