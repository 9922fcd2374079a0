"""Deferred subscribers (app.deferred): what a vote or a comment does once it is committed.

The suite drains in the committing thread ("inline"); production hands the drain to a thread of
each process. Both go through the ``deferred_events`` table, tested here: the event exists only
if the vote does, every subscriber runs once, a failing one is retried alone, nothing is lost
when a worker dies before draining, and concurrent drains share the work.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app import deferred
from app.community import services as community
from app.community.models import Follow, Notification
from app.database import write_transaction
from app.deferred import DeferredEvent
from app.extensions import db as _db
from app.ideas import events as ideas_events
from app.ideas import services as ideas
from app.rewards import services as rewards
from tests.factories import make_idea, make_member


def _waiting() -> int:
    return _db.session.scalar(select(func.count()).select_from(DeferredEvent))


def _notifications(user, kind: str) -> int:
    return _db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.recipient_id == user.id, Notification.kind == kind)
    )


def _follows(user, idea) -> bool:
    return (
        _db.session.scalar(
            select(func.count())
            .select_from(Follow)
            .where(Follow.user_id == user.id, Follow.kind == "idea", Follow.target_id == idea.id)
        )
        == 1
    )


@pytest.fixture
def undrained(monkeypatch):
    """Commits leave their events in the table, as when a worker dies right after its commit."""
    monkeypatch.setattr(deferred, "_after_commit", lambda app: None)


def test_a_vote_pays_its_author_and_the_voter_follows_once_committed(db):
    author, voter = make_member(), make_member()
    idea = make_idea(author=author)

    ideas.cast_vote(idea, voter=voter)

    assert rewards.balance_of(author) == 1
    assert _follows(voter, idea)
    assert _waiting() == 0


def test_an_event_is_written_in_the_publishers_transaction_and_rolled_back_with_it(db):
    author, voter = make_member(), make_member()
    idea = make_idea(author=author)
    _db.session.commit()

    ideas_events.vote_cast.send(idea, voter=voter, vote_count=1)
    assert _waiting() == 1  # in the transaction, not yet committed
    _db.session.rollback()

    assert _waiting() == 0
    assert rewards.balance_of(author) == 0
    assert not _follows(voter, idea)


def test_events_left_by_a_worker_that_died_are_drained_later(app, db, undrained):
    author, voter = make_member(), make_member()
    idea = make_idea(author=author)

    ideas.cast_vote(idea, voter=voter)
    assert _waiting() == 1
    assert rewards.balance_of(author) == 0

    result = app.test_cli_runner().invoke(args=["deferred", "drain"])
    _db.session.rollback()  # see what the command committed

    assert result.exit_code == 0, result.output
    assert "1 event(s) handled" in result.output
    assert rewards.balance_of(author) == 1
    assert _follows(voter, idea)
    assert _waiting() == 0


def test_a_withdrawal_waiting_behind_its_vote_takes_the_points_back(app, db, undrained):
    author, voter = make_member(), make_member()
    idea = make_idea(author=author)
    ideas.cast_vote(idea, voter=voter)
    ideas.withdraw_vote(idea, voter=voter)

    assert _drain(app) == 2

    assert rewards.balance_of(author) == 0
    assert rewards.paid_count(author.id, "supporter") == 1  # paid, then taken back


def test_support_for_an_idea_removed_before_the_drain_pays_nothing(app, db, undrained):
    author, voter = make_member(), make_member()
    idea = make_idea(author=author)
    ideas.cast_vote(idea, voter=voter)
    with write_transaction():
        idea.status = "removed"
        _db.session.commit()

    _drain(app)

    assert rewards.balance_of(author) == 0


def test_a_comment_removed_before_the_drain_earns_nothing(app, db, undrained):
    author = make_member()
    comment = community.post_comment(author, idea=make_idea(), body="Lovely")
    community.delete_comment(comment, actor=author)

    _drain(app)

    assert rewards.balance_of(author) == 0
    assert _waiting() == 0


def test_a_failing_subscriber_is_retried_alone_and_the_others_run_once(
    app, db, undrained, monkeypatch
):
    me, replier = make_member(), make_member()
    idea = make_idea()
    parent = community.post_comment(me, idea=idea, body="First")
    _drain(app)
    community.post_comment(replier, parent=parent, body="A reply")

    def broken(*args, **kwargs):
        raise RuntimeError("the ledger is away")

    with monkeypatch.context() as patched:
        patched.setattr(rewards, "earn", broken)
        _drain(app)

    event = _db.session.scalars(select(DeferredEvent)).one()
    assert event.attempts == 1
    assert "the ledger is away" in event.last_error
    assert event.available_at > event.created_at  # waits before the next try
    assert _notifications(me, "reply") == 1  # the community subscriber ran
    assert rewards.balance_of(replier) == 0

    assert _drain(app) == 0  # not due yet
    with write_transaction():
        event.available_at = event.created_at
        _db.session.commit()
    assert _drain(app) == 1

    assert rewards.balance_of(replier) == 2
    assert _notifications(me, "reply") == 1  # not notified twice
    assert _waiting() == 0


def test_an_event_that_keeps_failing_is_kept_and_shown_until_retried(
    app, db, undrained, monkeypatch
):
    author, voter = make_member(), make_member()
    idea = make_idea(author=author)
    ideas.cast_vote(idea, voter=voter)
    monkeypatch.setattr(rewards, "earn", lambda *a, **k: 1 / 0)
    for _attempt in range(deferred.MAX_ATTEMPTS):
        with write_transaction():
            _db.session.execute(
                DeferredEvent.__table__.update().values(available_at=func.current_timestamp())
            )
            _db.session.commit()
        _drain(app)
    with write_transaction():
        _db.session.execute(
            DeferredEvent.__table__.update().values(available_at=func.current_timestamp())
        )
        _db.session.commit()
    assert _drain(app) == 0  # given up

    status = app.test_cli_runner().invoke(args=["deferred", "status"])
    assert "1 event(s) waiting" in status.output
    assert f"{deferred.MAX_ATTEMPTS} attempt(s), gave up" in status.output
    assert "ZeroDivisionError" in status.output

    monkeypatch.undo()
    retried = app.test_cli_runner().invoke(args=["deferred", "drain", "--retry-failed"])
    _db.session.rollback()
    assert "1 event(s) handled" in retried.output
    assert rewards.balance_of(author) == 1
    assert _waiting() == 0


def test_concurrent_drains_run_each_event_once(app, db, undrained):
    me = make_member()
    idea = make_idea()
    parent = community.post_comment(me, idea=idea, body="Ask me anything")
    repliers = [make_member() for _ in range(12)]
    for n in range(60):
        community.post_comment(repliers[n % 12], parent=parent, body=f"Reply {n}")
    assert _waiting() == 61

    def drain_some(_n):
        return deferred.drain(app, limit=7)

    _db.session.commit()
    with ThreadPoolExecutor(max_workers=4) as pool:
        while _waiting():
            ran = sum(pool.map(drain_some, range(4)))
            assert ran > 0
            _db.session.rollback()  # see what the drains committed

    assert _notifications(me, "reply") == 60  # non-idempotent: a double run would show
    assert [rewards.balance_of(r) for r in repliers] == [5 * 2] * 12  # five comments each


def test_a_request_drains_its_events_once_answered_and_a_thread_polls_for_the_rest(
    app, db, client, monkeypatch
):
    monkeypatch.setitem(app.config, "DEFERRED_EVENTS", "background")
    monkeypatch.setitem(app.config, "DEFERRED_POLL_SECONDS", 0.2)
    author, voter = make_member(), make_member()
    idea = make_idea(author=author)
    token = _token(voter)

    response = client.put(
        f"/api/v1/ideas/{idea.id}/vote", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    response.close()  # as the server does once the answer is written
    _db.session.rollback()
    assert rewards.balance_of(author) == 1
    assert _follows(voter, idea)
    assert _waiting() == 0

    # A commit outside a request (a command, another worker that died): the thread polls.
    monkeypatch.setattr(deferred, "_after_commit", lambda app: None)
    ideas.withdraw_vote(idea, voter=voter)
    assert _waiting() == 1
    deferred.start_drainer(app)
    try:
        assert _eventually(lambda: rewards.balance_of(author) == 0)
        assert _eventually(lambda: _waiting() == 0)
    finally:
        deferred.stop_drainer(app)


def test_an_event_cannot_carry_what_the_drain_could_not_load_again(db):
    with pytest.raises(TypeError, match="cannot carry object"):
        ideas_events.vote_cast.send(make_idea(), voter=object(), vote_count=1)
    _db.session.rollback()


def _drain(app, **kwargs) -> int:
    """Drain as the drain thread would, in its own session; then look at what it committed."""
    _db.session.commit()
    ran = deferred.drain(app, **kwargs)
    _db.session.rollback()
    return ran


def _token(user) -> str:
    from app.accounts import services as accounts

    return accounts.create_api_token(user, name="t")[1]


def _eventually(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _db.session.rollback()  # a fresh snapshot each look
        if check():
            return True
        time.sleep(0.05)
    return False
