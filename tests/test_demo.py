from __future__ import annotations

from sqlalchemy import func, select

from app.accounts.models import User
from app.ideas.models import Challenge, Idea, Vote
from tests.factories import make_member


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_seed_demo_builds_a_believable_board_once(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "admin@example.com" in result.output
    assert count(db, User) == 10
    statuses = set(db.session.scalars(select(Idea.status)))
    assert statuses >= {
        "open",
        "under_review",
        "shortlisted",
        "adopted",
        "in_production",
        "shipped",
        "declined",
        "merged",
    }
    votes = count(db, Vote)
    assert votes == db.session.scalar(select(func.sum(Idea.vote_count)))
    assert count(db, Challenge, Challenge.closed_at.is_not(None)) == 1

    again = runner.invoke(args=["seed-demo"])
    assert "not seeding" in again.output
    assert count(db, Vote) == votes


def test_seed_demo_adds_scale_data_with_exact_counters(app, db):
    result = app.test_cli_runner().invoke(
        args=["seed-demo", "--ideas", "300", "--votes", "2000", "--people", "250"]
    )
    assert result.exit_code == 0, result.output
    assert count(db, User) == 260
    assert count(db, Idea) == 312
    mismatched = db.session.scalar(
        select(func.count())
        .select_from(Idea)
        .where(
            Idea.vote_count
            != select(func.count(Vote.id)).where(Vote.idea_id == Idea.id).scalar_subquery()
        )
    )
    assert mismatched == 0
    assert count(db, Vote, Vote.idea_id > 12) == 2000


def test_rescore_and_close_challenges_commands(app, db):
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo"])
    assert "Rescored 12 ideas." in runner.invoke(args=["ideas", "rescore"]).output
    assert "No challenge is due" in runner.invoke(args=["ideas", "close-challenges"]).output


def test_ideas_can_be_shared_after_scale_seeding(app, db):
    from app.ideas import services

    app.test_cli_runner().invoke(args=["seed-demo", "--ideas", "50", "--votes", "100"])
    idea = services.submit_idea(make_member(), title="Shared after seeding", body="x")
    assert idea.id == 12 + 50 + 1
