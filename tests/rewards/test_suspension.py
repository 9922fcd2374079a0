"""Suspended people earn nothing and leave the leaderboard; admins' grants still reach them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from app.accounts import services as accounts
from app.accounts.models import User
from app.database import utcnow
from app.extensions import db as _db
from app.ideas import services as ideas
from app.rewards import services
from tests.factories import make_idea, make_member


def suspend(person: User, **kwargs) -> None:
    moderator = make_member(roles=("moderator",))
    accounts.suspend(person, actor=moderator, reason="Vote rings", **kwargs)


def supported(author: User, times: int = 1) -> None:
    """Others support an idea of ``author``'s: the supporter rule pays the author 1 each."""
    idea = make_idea(author)
    for _ in range(times):
        ideas.cast_vote(idea.id, voter=make_member())


def end_suspension_in_the_past(person: User) -> None:
    _db.session.execute(
        update(User)
        .where(User.id == person.id)
        .values(suspended_until=utcnow() - timedelta(minutes=1))
    )
    _db.session.commit()


def test_a_suspended_author_earns_nothing_for_support(db):
    author = make_member()
    suspend(author)

    supported(author, times=2)

    assert services.balance_of(author) == 0
    assert services.ledger_of(author) == []


def test_earning_resumes_once_the_suspension_is_lifted(db):
    author = make_member()
    suspend(author)
    supported(author)
    accounts.unsuspend(author, actor=make_member(roles=("admin",)))

    supported(author)

    assert services.balance_of(author) == 1
    assert services.verify() == []


def test_earning_resumes_once_the_suspension_runs_out(db):
    author = make_member()
    suspend(author, until=utcnow() + timedelta(days=1))
    supported(author)
    end_suspension_in_the_past(author)

    supported(author)

    assert services.balance_of(author) == 1


def test_an_admin_grant_still_reaches_a_suspended_person(db):
    person = make_member()
    suspend(person)

    services.grant(person, 25, reason="Prize from before", actor=make_member(roles=("admin",)))

    assert services.balance_of(person) == 25


def test_the_leaderboard_leaves_out_suspended_people(db):
    first, second = make_member(display_name="Ada"), make_member(display_name="Bo")
    supported(first, times=3)
    supported(second, times=2)
    before, _mine = services.leaderboard(period="week")
    suspend(first)

    after, _mine = services.leaderboard(period="week")

    assert [(s.rank, s.display_name) for s in before] == [(1, "Ada"), (2, "Bo")]
    assert [(s.rank, s.display_name) for s in after] == [(1, "Bo")]


def test_a_suspended_viewer_has_no_rank(db):
    person = make_member()
    supported(person, times=2)
    suspend(person)

    _top, mine = services.leaderboard(period="week", viewer=person)

    assert mine is None


def test_a_suspension_that_ran_out_puts_them_back_on_the_leaderboard(db):
    person = make_member(display_name="Ada")
    supported(person, times=2)
    suspend(person, until=utcnow() + timedelta(days=1))
    end_suspension_in_the_past(person)

    top, mine = services.leaderboard(period="week", viewer=person)

    assert [s.display_name for s in top] == ["Ada"]
    assert mine is not None
    assert mine.rank == 1


def test_the_leaderboard_page_tells_a_suspended_viewer_why_they_are_missing(client, db, login):
    person = make_member()
    supported(person, times=2)
    supported(make_member(), times=1)
    login(person)
    suspend(person)

    page = client.get("/leaderboard").get_data(as_text=True)

    assert "you are not on the leaderboard until the suspension ends" in page
