from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.community import services as community
from app.database import write_transaction
from app.errors import Conflict, Forbidden
from app.extensions import db as _db
from app.ideas import services as ideas
from app.rewards import services
from app.rewards.models import Balance, EarningRule, LedgerEntry, Redemption
from tests.factories import make_challenge, make_idea, make_member


def entries(db, user) -> list[tuple[str, int]]:
    return [(e.reason, e.amount) for e in reversed(services.ledger_of(user))]


def test_publishing_and_support_pay_the_author(db):
    author = make_member()
    idea = ideas.submit_idea(author, title="Paid idea here", body="x")
    ideas.cast_vote(idea.id, voter=make_member())
    assert entries(db, author) == [("idea_published", 10), ("supporter", 1)]
    assert services.balance_of(author) == 11


def test_a_withdrawn_vote_is_reversed_once_and_a_new_vote_does_not_pay_again(db):
    author, voter = make_member(), make_member()
    idea = make_idea(author)
    ideas.cast_vote(idea.id, voter=voter)
    ideas.withdraw_vote(idea.id, voter=voter)
    ideas.cast_vote(idea.id, voter=voter)
    ideas.withdraw_vote(idea.id, voter=voter)
    assert entries(db, author) == [("supporter", 1), ("supporter", -1)]
    assert services.balance_of(author) == 0


def test_the_same_event_delivered_twice_pays_once(db):
    author = make_member()
    idea = make_idea(author)
    for _ in range(2):
        services.earn(author.id, "idea_published", key=f"idea_published:{idea.id}")
    db.session.commit()
    assert services.balance_of(author) == 10


def test_daily_cap_limits_supporter_points(db):
    author = make_member()
    idea = make_idea(author)
    db.session.add(EarningRule(code="supporter", amount=2, daily_cap=5))
    db.session.commit()
    for _ in range(4):
        ideas.cast_vote(idea.id, voter=make_member())
    assert [amount for _reason, amount in entries(db, author)] == [2, 2, 1]
    assert services.balance_of(author) == 5


def test_comments_pay_but_not_on_ones_own_idea(db):
    author, other = make_member(), make_member()
    idea = make_idea(author)
    community.post_comment(author, idea=idea, body="My own idea")
    comment = community.post_comment(other, idea=idea, body="Nice")
    assert services.balance_of(author) == 0
    assert services.balance_of(other) == 2
    community.delete_comment(comment, actor=other)
    assert services.balance_of(other) == 0


def test_adoption_and_a_challenge_win_pay_the_author(db):
    product = make_member(roles=("product",))
    author = make_member()
    challenge = make_challenge(bonus_points=300)
    idea = make_idea(author, challenge_id=challenge.id, vote_count=3)
    for status in ("under_review", "shortlisted", "adopted"):
        ideas.change_status(idea, actor=product, to=status)
    from datetime import timedelta

    from app.database import utcnow

    ideas.close_due_challenges(utcnow() + timedelta(days=8))
    assert entries(db, author) == [("shortlisted", 50), ("adopted", 500), ("challenge_winner", 300)]


def test_reversal_never_takes_back_points_already_spent(db):
    author, voter = make_member(), make_member()
    idea = make_idea(author)
    ideas.cast_vote(idea.id, voter=voter)
    sticker = services.create_item(make_member(roles=("admin",)), name="Sticker", cost=1)
    services.redeem(author, sticker.id)
    ideas.withdraw_vote(idea.id, voter=voter)
    assert services.balance_of(author) == 0
    assert services.verify() == []


def test_only_admins_grant_points_with_a_reason(db):
    person, admin = make_member(), make_member(roles=("admin",))
    with pytest.raises(Forbidden):
        services.grant(person, 100, reason="Thanks", actor=make_member(roles=("moderator",)))
    entry = services.grant(person, 100, reason="Thanks for the meetup", actor=admin)
    assert (entry.amount, entry.note, entry.actor_id) == (100, "Thanks for the meetup", admin.id)
    assert services.balance_of(person) == 100


def test_verify_finds_a_tampered_balance(app, db):
    person = make_member()
    services.grant(person, 40, reason="Welcome", actor=make_member(roles=("admin",)))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["rewards", "verify"]).exit_code == 0
    db.session.execute(update(Balance).where(Balance.user_id == person.id).values(balance=999))
    db.session.commit()
    result = runner.invoke(args=["rewards", "verify"])
    assert result.exit_code == 1
    assert "stored balance 999, ledger sum 40" in result.output


def test_redemption_debits_and_cancellation_refunds(db):
    person = make_member()
    services.grant(person, 100, reason="Welcome", actor=make_member(roles=("admin",)))
    item = services.create_item(
        make_member(roles=("product",)), name="Sticker pack", cost=30, stock=2, per_person_limit=1
    )
    redemption = services.redeem(person, item.id)
    assert services.balance_of(person) == 70
    with pytest.raises(Conflict) as error:
        services.redeem(person, item.id)
    assert error.value.code == "limit_reached"
    db.session.rollback()
    services.cancel_redemption(redemption, actor=person)
    db.session.refresh(item)
    assert (services.balance_of(person), item.stock) == (100, 2)
    assert services.verify() == []


def test_redeeming_without_enough_points_is_refused_and_changes_nothing(db):
    person = make_member()
    item = services.create_item(make_member(roles=("admin",)), name="Mug", cost=30, stock=1)
    with pytest.raises(Conflict) as error:
        services.redeem(person, item.id)
    assert error.value.code == "insufficient_points"
    db.session.rollback()
    db.session.refresh(item)
    assert item.stock == 1
    assert db.session.scalar(select(func.count()).select_from(Redemption)) == 0


def test_every_entry_moves_its_balance_in_the_database_itself(db):
    """However an entry is written (a service, a script, the SQL console), the balance and the
    lifetime points move with it; one that would overdraw the balance is refused."""
    person = make_member()

    def write(key: str, amount: int, lifetime: int, reason: str = "manual") -> None:
        db.session.execute(
            insert(LedgerEntry).values(
                user_id=person.id,
                amount=amount,
                lifetime=lifetime,
                reason=reason,
                idempotency_key=key,
                note="",
            )
        )

    write("raw:1", 40, 40)
    write("raw:2", -15, 0, "redemption")  # spending leaves the level as it is
    write("raw:3", 0, -60)  # a reversal of points spent: the level never goes below zero
    db.session.commit()
    assert (services.balance_of(person), services.lifetime_of(person.id)) == (25, 0)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        write("raw:4", -26, 0, "redemption")
    db.session.commit()
    assert services.balance_of(person) == 25
    assert services.verify() == []


def test_counting_earnings_says_exactly_the_threshold_once(db):
    person = make_member()
    counts = [
        services.earn_counting(person.id, "comment", key=f"comment:count:{n}", up_to=3)
        for n in range(5)
    ]
    assert counts == [1, 2, 3, 4, 4]


def test_a_deduction_from_someone_who_never_earned_is_refused(db):
    admin, person = make_member(roles=("admin",)), make_member()
    with pytest.raises(Conflict) as error:
        services.grant(person, -5, reason="Correction", actor=admin)
    assert error.value.code == "insufficient_points"
    db.session.rollback()
    assert services.ledger_of(person) == []
    assert services.balance_of(person) == 0


def test_fifty_concurrent_redemptions_of_five_in_stock(app, db):
    admin = make_member(roles=("admin",))
    people = [make_member() for _ in range(50)]
    for person in people:
        services.grant(person, 100, reason="Launch", actor=admin)
    item = services.create_item(admin, name="Prototype", cost=60, stock=5)
    item_id, person_ids = item.id, [p.id for p in people]

    def attempt(person_id: int) -> str:
        with app.app_context(), write_transaction():
            person = _db.session.get(type(people[0]), person_id)
            try:
                services.redeem(person, item_id)
                return "ok"
            except Conflict as error:
                _db.session.rollback()
                return error.code
            finally:
                _db.session.remove()

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(attempt, person_ids))

    assert outcomes.count("ok") == 5
    assert set(outcomes) == {"ok", "out_of_stock"}
    db.session.rollback()
    db.session.refresh(item)
    assert item.stock == 0
    assert db.session.scalar(select(func.count()).select_from(Redemption)) == 5
    assert services.verify() == []
    assert db.session.scalar(select(func.min(Balance.balance))) >= 0


def test_levels_follow_lifetime_points(db):
    person = make_member()
    assert services.standing(person) == {
        "balance": 0,
        "lifetime": 0,
        "level": 1,
        "to_next_level": 100,
    }
    services.grant(person, 120, reason="Thanks", actor=make_member(roles=("admin",)))
    assert services.standing(person)["level"] == 2
    services.earn(person.id, "adopted", key="adopted:test")
    db.session.commit()
    assert services.standing(person)["level"] == 3
    assert services.level_for(5_000) == 5


def test_leaderboard_ranks_earnings_with_the_viewers_own_place(db):
    people = [make_member(display_name=f"Person {n}") for n in range(4)]
    for n, person in enumerate(people):
        for k in range(n + 1):
            services.earn(person.id, "comment", key=f"comment:test:{n}:{k}")
    db.session.commit()
    top, mine = services.leaderboard(period="week", viewer=people[0], limit=2)
    assert [(s.rank, s.display_name, s.points) for s in top] == [
        (1, "Person 3", 8),
        (2, "Person 2", 6),
    ]
    assert (mine.rank, mine.points) == (4, 2)
    with pytest.raises(Exception, match="week, month or all"):
        services.leaderboard(period="decade")


def test_badges_are_awarded_once_on_the_events_that_earn_them(db):
    from app.rewards import badges

    author, product = make_member(), make_member(roles=("product",))
    first = ideas.submit_idea(author, title="First of many", body="x")
    ideas.submit_idea(author, title="Second of many", body="x")
    for status in ("under_review", "shortlisted", "adopted"):
        ideas.change_status(first, actor=product, to=status)
    earned = [badge.code for badge, _when in badges.badges_of(author.id)]
    assert earned == ["first_idea", "adopted_creator"]


def test_ten_comments_on_others_ideas_earn_the_conversationalist_badge(db):
    from app.rewards import badges

    talker = make_member()
    idea = make_idea()
    for n in range(10):
        community.post_comment(talker, idea=idea, body=f"Thought {n}")
    assert [b.code for b, _when in badges.badges_of(talker.id)] == ["conversationalist"]
