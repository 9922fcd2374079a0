"""The points ledger: earning by rule, reversals, manual grants, redemption, verification.

``_credit`` is the one writer of ledger entries and balances. It runs inside the caller's
transaction (subscribers of other modules' events call it) and never commits; the public
functions here commit once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from app.accounts.models import User
from app.accounts.permissions import ensure, is_admin, is_staff, signed_in
from app.database import upsert, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.rewards.models import Balance, EarningRule, LedgerEntry, Redemption, RewardItem

# code: (points, daily cap in points or None, what the person sees)
DEFAULT_RULES: dict[str, tuple[int, int | None, str]] = {
    "idea_published": (10, None, "Your idea was published"),
    "supporter": (1, 50, "Someone supported your idea"),
    "comment": (2, 20, "You joined a conversation"),
    "shortlisted": (50, None, "Your idea was shortlisted"),
    "adopted": (500, None, "Your idea was adopted"),
    "milestone": (20, None, "Your idea reached a milestone"),
    "challenge_winner": (0, None, "Your idea won a challenge"),
}


@dataclass(frozen=True)
class Rule:
    code: str
    amount: int
    daily_cap: int | None
    label: str


def rules() -> dict[str, Rule]:
    """The rules in force: the defaults, as admins have changed them."""
    changed = {row.code: row for row in db.session.scalars(select(EarningRule))}
    result = {}
    for code, (amount, cap, label) in DEFAULT_RULES.items():
        row = changed.get(code)
        result[code] = Rule(
            code, row.amount if row else amount, row.daily_cap if row else cap, label
        )
    return result


def _start_of_day(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)


def _credit(
    user_id: int,
    amount: int,
    *,
    reason: str,
    key: str,
    source_kind: str | None = None,
    source_id: int | None = None,
    note: str = "",
    actor_id: int | None = None,
    daily_cap: int | None = None,
    clamp: bool = False,
) -> LedgerEntry | None:
    """Write one entry and move the balance with it; None when the key was paid already, the
    amount is zero, or the day's cap for this reason is used up."""
    if amount > 0 and daily_cap is not None:
        earned_today = db.session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                LedgerEntry.user_id == user_id,
                LedgerEntry.reason == reason,
                LedgerEntry.created_at >= _start_of_day(utcnow()),
            )
        )
        amount = min(amount, max(daily_cap - earned_today, 0))
    if amount < 0 and clamp:
        # A reversal takes back at most what is left: points already spent stay spent.
        held = db.session.scalar(select(Balance.balance).where(Balance.user_id == user_id)) or 0
        amount = max(amount, -held)
    if amount == 0:
        return None
    entry_id = db.session.execute(
        upsert(LedgerEntry)
        .values(
            user_id=user_id,
            amount=amount,
            reason=reason,
            source_kind=source_kind,
            source_id=source_id,
            idempotency_key=key,
            note=note[:300],
            actor_id=actor_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(LedgerEntry.id)
    ).scalar()
    if entry_id is None:
        return None
    db.session.execute(
        upsert(Balance)
        .values(user_id=user_id, balance=0, lifetime=0)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    moved = db.session.execute(
        update(Balance)
        .where(Balance.user_id == user_id, Balance.balance + amount >= 0)
        .values(balance=Balance.balance + amount, lifetime=Balance.lifetime + max(amount, 0))
        .returning(Balance.balance)
        .execution_options(synchronize_session=False)
    ).first()
    if moved is None:
        raise Conflict(_("Not enough points for that."), code="insufficient_points")
    return db.session.get(LedgerEntry, entry_id)


def earn(
    user_id: int,
    code: str,
    *,
    key: str,
    source_kind: str | None = None,
    source_id: int | None = None,
    amount: int | None = None,
) -> LedgerEntry | None:
    """Pay a rule (inside the caller's transaction). ``amount`` overrides the rule's points."""
    rule = rules()[code]
    return _credit(
        user_id,
        rule.amount if amount is None else amount,
        reason=code,
        key=key,
        source_kind=source_kind,
        source_id=source_id,
        note=rule.label,
        daily_cap=rule.daily_cap,
    )


def reverse(key: str, *, note: str) -> LedgerEntry | None:
    """Undo the entry paid under ``key`` with a compensating entry (once); inside the caller's
    transaction. Nothing happens when nothing was paid."""
    original = db.session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))
    if original is None:
        return None
    return _credit(
        original.user_id,
        -original.amount,
        reason=original.reason,
        key=f"{key}:reversed",
        source_kind=original.source_kind,
        source_id=original.source_id,
        note=note,
        clamp=original.amount > 0,
    )


def grant(user: User, amount: int, *, reason: str, actor: User) -> LedgerEntry:
    """An admin's grant (or, negative, deduction) with a reason the person sees."""
    ensure(is_admin(actor), _("Only admins grant points."))
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed(_("Say why."), fields={"reason": [_("Required.")]})
    if amount == 0 or abs(amount) > 1_000_000:
        raise ValidationFailed(
            _("Grant between 1 and 1,000,000 points, or deduct."),
            fields={"amount": [_("Not zero; at most 1,000,000.")]},
        )
    entry = _credit(
        user.id,
        amount,
        reason="manual",
        key=f"manual:{utcnow().isoformat()}:{user.id}:{actor.id}",
        note=reason,
        actor_id=actor.id,
    )
    db.session.commit()
    return entry


def paid_count(user_id: int, reason: str) -> int:
    """How many entries paid ``reason`` to the person (reversals not counted)."""
    return db.session.scalar(
        select(func.count())
        .select_from(LedgerEntry)
        .where(LedgerEntry.user_id == user_id, LedgerEntry.reason == reason, LedgerEntry.amount > 0)
    )


def balance_of(user: User) -> int:
    return db.session.scalar(select(Balance.balance).where(Balance.user_id == user.id)) or 0


def ledger_of(user: User, *, limit: int = 100) -> list[LedgerEntry]:
    return list(
        db.session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.user_id == user.id)
            .order_by(LedgerEntry.id.desc())
            .limit(limit)
        )
    )


def verify() -> list[tuple[int, int, int]]:
    """People whose stored balance differs from the sum of their entries: (id, stored, sum)."""
    sums = (
        select(LedgerEntry.user_id, func.sum(LedgerEntry.amount).label("total"))
        .group_by(LedgerEntry.user_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Balance.user_id, Balance.balance, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.user_id == Balance.user_id)
        .where(Balance.balance != func.coalesce(sums.c.total, 0))
    ).all()
    orphans = db.session.execute(
        select(sums.c.user_id, 0, sums.c.total)
        .outerjoin(Balance, Balance.user_id == sums.c.user_id)
        .where(Balance.user_id.is_(None), sums.c.total != 0)
    ).all()
    return [tuple(row) for row in [*rows, *orphans]]


# --- the catalog ----------------------------------------------------------------------------


def catalog() -> list[RewardItem]:
    """Rewards available now, cheapest first."""
    now = utcnow()
    return list(
        db.session.scalars(
            select(RewardItem)
            .where(
                (RewardItem.active_from.is_(None)) | (RewardItem.active_from <= now),
                (RewardItem.active_until.is_(None)) | (RewardItem.active_until > now),
            )
            .order_by(RewardItem.cost, RewardItem.id)
        )
    )


def redemptions_of(user: User) -> list[Redemption]:
    return list(
        db.session.scalars(
            select(Redemption).where(Redemption.user_id == user.id).order_by(Redemption.id.desc())
        )
    )


def create_item(
    actor: User,
    *,
    name: str,
    cost: int,
    description: str = "",
    stock: int | None = None,
    per_person_limit: int | None = None,
) -> RewardItem:
    ensure(is_staff(actor), _("Only staff manage rewards."))
    name = " ".join((name or "").split())
    if not 2 <= len(name) <= 120:
        raise ValidationFailed(_("Name it in 2 to 120 characters."), fields={"name": ["2–120"]})
    if not 1 <= cost <= 10_000_000:
        raise ValidationFailed(_("A reward costs at least 1 point."), fields={"cost": [">= 1"]})
    if stock is not None and stock < 0:
        raise ValidationFailed(_("Stock cannot be negative."), fields={"stock": [">= 0"]})
    item = RewardItem(
        name=name,
        cost=cost,
        description=(description or "")[:2000],
        stock=stock,
        per_person_limit=per_person_limit,
    )
    db.session.add(item)
    db.session.commit()
    return item


def redeem(user: User, item_id: int) -> Redemption:
    """Spend points on a reward. Points and stock move in conditional updates in one
    transaction, so no balance goes negative and no item oversells, however many try at once."""
    ensure(signed_in(user), _("Log in to redeem rewards."))
    item = db.session.get(RewardItem, item_id)
    now = utcnow()
    if item is None:
        raise NotFound(_("No such reward."))
    if (item.active_from and now < item.active_from) or (
        item.active_until and now >= item.active_until
    ):
        raise Conflict(_("This reward is not available now."), code="not_available")
    if item.per_person_limit is not None:
        taken = db.session.scalar(
            select(func.count())
            .select_from(Redemption)
            .where(
                Redemption.user_id == user.id,
                Redemption.item_id == item.id,
                Redemption.status != "cancelled",
            )
        )
        if taken >= item.per_person_limit:
            raise Conflict(
                _("You have redeemed this reward as often as it allows."), code="limit_reached"
            )
    taken = db.session.execute(
        update(RewardItem)
        .where(RewardItem.id == item.id, (RewardItem.stock.is_(None)) | (RewardItem.stock > 0))
        .values(stock=RewardItem.stock - 1)
        .returning(RewardItem.id)
        .execution_options(synchronize_session=False)
    ).first()
    if taken is None:
        raise Conflict(_("Sorry, this reward is out of stock."), code="out_of_stock")
    redemption = Redemption(user_id=user.id, item_id=item.id, cost=item.cost, created_at=now)
    db.session.add(redemption)
    db.session.flush()
    _credit(
        user.id,
        -item.cost,
        reason="redemption",
        key=f"redemption:{redemption.id}",
        source_kind="redemption",
        source_id=redemption.id,
        note=item.name,
    )
    db.session.commit()
    return redemption


def cancel_redemption(redemption: Redemption, *, actor: User) -> None:
    """Cancel a requested redemption: the points come back and the item returns to stock."""
    ensure(is_staff(actor) or actor.id == redemption.user_id, _("Not yours to cancel."))
    changed = db.session.execute(
        update(Redemption)
        .where(Redemption.id == redemption.id, Redemption.status == "requested")
        .values(status="cancelled", decided_at=utcnow())
        .returning(Redemption.id)
        .execution_options(synchronize_session=False)
    ).first()
    if changed is None:
        raise Conflict(_("Only a requested redemption can be cancelled."), code="not_requested")
    db.session.execute(
        update(RewardItem)
        .where(RewardItem.id == redemption.item_id, RewardItem.stock.is_not(None))
        .values(stock=RewardItem.stock + 1)
        .execution_options(synchronize_session=False)
    )
    reverse(f"redemption:{redemption.id}", note=_("Redemption cancelled"))
    db.session.commit()


# --- levels and leaderboards ----------------------------------------------------------------

# Lifetime points at which each level starts: level 1 from 0, level 2 from 100, …
DEFAULT_LEVELS = (0, 100, 500, 2_000, 5_000)
PERIODS = ("week", "month", "all")


def level_for(lifetime: int, thresholds: tuple[int, ...] = DEFAULT_LEVELS) -> int:
    return sum(1 for start in thresholds if lifetime >= start)


def standing(user: User) -> dict[str, int | None]:
    """Balance, lifetime points, level, and the points still needed for the next level."""
    row = db.session.execute(
        select(Balance.balance, Balance.lifetime).where(Balance.user_id == user.id)
    ).first()
    balance, lifetime = (row.balance, row.lifetime) if row else (0, 0)
    level = level_for(lifetime)
    following = DEFAULT_LEVELS[level] if level < len(DEFAULT_LEVELS) else None
    return {
        "balance": balance,
        "lifetime": lifetime,
        "level": level,
        "to_next_level": following - lifetime if following is not None else None,
    }


@dataclass(frozen=True)
class Standing:
    rank: int
    user_id: int
    display_name: str
    points: int


def _period_start(period: str) -> datetime | None:
    from datetime import timedelta

    if period not in PERIODS:
        raise ValidationFailed(_("Choose week, month or all."), fields={"period": list(PERIODS)})
    now = utcnow()
    return {"week": now - timedelta(days=7), "month": now - timedelta(days=30), "all": None}[period]


def leaderboard(
    *, period: str = "week", viewer: User | None = None, limit: int = 20
) -> tuple[list[Standing], Standing | None]:
    """Who earned most in the period (spending does not count), ties by who got there first;
    and the viewer's own standing, even outside the top."""
    start = _period_start(period)
    earned = (
        select(
            LedgerEntry.user_id,
            func.sum(LedgerEntry.amount).label("points"),
            func.max(LedgerEntry.id).label("last"),
        )
        .where(LedgerEntry.reason.not_in(("redemption", "manual")))
        .group_by(LedgerEntry.user_id)
    )
    if start is not None:
        earned = earned.where(LedgerEntry.created_at >= start)
    earned = earned.subquery()
    ranked = (
        select(
            earned.c.user_id,
            User.display_name,
            earned.c.points,
            func.rank().over(order_by=(earned.c.points.desc(), earned.c.last)).label("rank"),
        )
        .join(User, User.id == earned.c.user_id)
        .where(earned.c.points > 0)
        .subquery()
    )
    top = [
        Standing(r.rank, r.user_id, r.display_name, r.points)
        for r in db.session.execute(select(ranked).order_by(ranked.c.rank).limit(limit))
    ]
    mine = None
    if signed_in(viewer):
        row = db.session.execute(select(ranked).where(ranked.c.user_id == viewer.id)).first()
        mine = Standing(row.rank, row.user_id, row.display_name, row.points) if row else None
    return top, mine
