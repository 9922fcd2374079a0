"""The points ledger: earning by rule, reversals, manual grants, redemption, verification.

Entries are written here only (``_credit``, ``earn``, ``reverse``, ``reverse_paid_for_idea``),
one INSERT each; the database moves each person's balance as their entries are written (see
"writing entries" below). These run inside the caller's transaction (subscribers of other
modules' events call them) and never commit; the public functions here commit once.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import (
    Integer,
    Row,
    String,
    and_,
    bindparam,
    case,
    cast,
    column,
    delete,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from app.accounts.models import User
from app.accounts.permissions import ensure, is_admin, is_staff, signed_in
from app.community.models import Comment
from app.database import UTCDateTime, insert_for, release_write_lock, upsert, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.ideas import images
from app.ideas.models import Challenge, Idea
from app.rewards import events
from app.rewards.models import Balance, EarningRule, LedgerEntry, Redemption, RewardItem

audit = logging.getLogger("cocreate.audit")

# What a rule's amount means: points paid, a percentage of revenue, or the challenge's bonus.
POINTS, PERCENT, BONUS = "points", "percent", "bonus"

# code: (amount, daily cap in points or None, what the person sees, unit)
DEFAULT_RULES: dict[str, tuple[int, int | None, str, str]] = {
    "idea_published": (10, None, "Your idea was published", POINTS),
    "supporter": (1, 50, "Someone supported your idea", POINTS),
    "comment": (2, 20, "You joined a conversation", POINTS),
    "shortlisted": (50, None, "Your idea was shortlisted", POINTS),
    "adopted": (500, None, "Your idea was adopted", POINTS),
    "milestone": (20, None, "Your idea reached a milestone", POINTS),
    "challenge_winner": (0, None, "Your idea won a challenge", BONUS),
    # A share of the confirmed pre-order revenue of a production run, one point per currency
    # unit (REWARD_ROYALTY_CENTS_PER_POINT cents).
    "royalty": (5, None, "Royalty on your idea's production run", PERCENT),
}
MAX_RULE_POINTS = 100_000


@dataclass(frozen=True)
class Rule:
    code: str
    amount: int
    daily_cap: int | None
    label: str
    unit: str = POINTS
    changed: bool = False


def rules() -> dict[str, Rule]:
    """The rules in force: the defaults, as admins have changed them."""
    changed = {row.code: row for row in db.session.scalars(select(EarningRule))}
    result = {}
    for code, (amount, cap, label, unit) in DEFAULT_RULES.items():
        row = changed.get(code)
        result[code] = Rule(
            code,
            row.amount if row else amount,
            row.daily_cap if row else cap,
            label,
            unit,
            changed=row is not None,
        )
    return result


def set_rule(actor: User, code: str, *, amount: int, daily_cap: int | None) -> Rule:
    """Change a rule from now on; entries already written keep what they paid."""
    ensure(is_admin(actor), _("Only admins change the earning rules."))
    if code not in DEFAULT_RULES:
        raise NotFound(_("No such rule."))
    unit = DEFAULT_RULES[code][3]
    if unit == BONUS:
        raise ValidationFailed(
            _("A challenge winner earns the bonus set on the challenge."),
            fields={"amount": [_("Set the bonus on the challenge.")]},
        )
    top = 100 if unit == PERCENT else MAX_RULE_POINTS
    if amount is None or not 0 <= amount <= top:
        raise ValidationFailed(
            _("Choose an amount from 0 to %(top)s.", top=f"{top:,}"),
            fields={"amount": [_("From 0 to %(top)s.", top=f"{top:,}")]},
        )
    if daily_cap is not None and (unit != POINTS or not 1 <= daily_cap <= 1_000_000):
        raise ValidationFailed(
            _("A daily cap is a number of points from 1 to 1,000,000, or empty for none."),
            fields={"daily_cap": [_("From 1 to 1,000,000, or empty.")]},
        )
    db.session.execute(
        upsert(EarningRule)
        .values(code=code, amount=amount, daily_cap=daily_cap, updated_at=utcnow())
        .on_conflict_do_update(
            index_elements=["code"],
            set_={"amount": amount, "daily_cap": daily_cap, "updated_at": utcnow()},
        )
    )
    audit.info(
        "rule changed", extra={"actor": actor.id, "rule": code, "amount": amount, "cap": daily_cap}
    )
    db.session.commit()
    return rules()[code]


def reset_rule(actor: User, code: str) -> Rule:
    """Back to the default, from now on."""
    ensure(is_admin(actor), _("Only admins change the earning rules."))
    if code not in DEFAULT_RULES:
        raise NotFound(_("No such rule."))
    db.session.execute(delete(EarningRule).where(EarningRule.code == code))
    audit.info("rule reset", extra={"actor": actor.id, "rule": code})
    db.session.commit()
    return rules()[code]


def _start_of_day(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)


# --- writing entries ------------------------------------------------------------------------
#
# Each payment, reversal, grant or spending is one INSERT of a ledger entry; the database moves
# the person's balance and lifetime points as the entry is written (the trigger of migration
# b7e4c2a91f30), so an entry and its balance cannot part. An entry that would overdraw the
# balance fails the balance's CHECK, and is refused with a 409.


def _int(name: str):
    """A typed parameter (PostgreSQL must know a parameter's type where only a NULL tells)."""
    return cast(bindparam(name, type_=Integer), Integer)


def _text(name: str):
    return cast(bindparam(name, type_=String), String)


def _smaller(a, b):
    return case((a < b, a), else_=b)


_ENTRY_COLUMNS = (
    "user_id",
    "amount",
    "lifetime",
    "reason",
    "source_kind",
    "source_id",
    "idempotency_key",
    "note",
    "actor_id",
    "created_at",
)


def _writer(dialect: str, source, *extra):
    """INSERT … SELECT of ledger entries from ``source``, the entry read back as an ORM row
    (with ``extra`` columns)."""
    table = LedgerEntry.__table__
    written = (
        insert_for(dialect)(table)
        .from_select(_ENTRY_COLUMNS, source)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(*table.c, *extra)
    )
    return select(LedgerEntry, *(column(c.name, Integer) for c in extra)).from_statement(written)


@functools.lru_cache(maxsize=2)
def _ledger_statements(dialect: str) -> dict:
    """The INSERTs that pay by rule and that reverse an entry, built once per database: each
    works out its amount in SQL, so paying costs one statement."""
    now = bindparam("now", type_=UTCDateTime)

    # Paying by rule: the admins' change to the rule, if any, else its default; within the
    # rule's daily cap (what it paid the person today, reversals not deducted: posting and
    # removing a comment again and again must not earn past the cap); nothing to a suspended
    # person.
    changed = select(EarningRule).where(EarningRule.code == bindparam("reason", type_=String))
    terms = select(
        func.coalesce(
            _int("amount"),
            case(
                (changed.exists(), changed.with_only_columns(EarningRule.amount).scalar_subquery()),
                else_=_int("default_amount"),
            ),
        ).label("base"),
        case(
            (changed.exists(), changed.with_only_columns(EarningRule.daily_cap).scalar_subquery()),
            else_=_int("default_cap"),
        ).label("cap"),
        select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .where(
            LedgerEntry.user_id == bindparam("user_id", type_=Integer),
            LedgerEntry.reason == bindparam("reason", type_=String),
            LedgerEntry.created_at >= bindparam("day_start", type_=UTCDateTime),
            LedgerEntry.amount > 0,
        )
        .scalar_subquery()
        .label("paid_today"),
    ).subquery("terms")
    room = terms.c.cap - terms.c.paid_today
    points = case(
        (
            and_(terms.c.base > 0, terms.c.cap.is_not(None), room < terms.c.base),
            case((room > 0, room), else_=0),
        ),
        else_=terms.c.base,
    )
    suspended = (
        select(User.id)
        .where(User.id == bindparam("user_id", type_=Integer), User.suspended_on(now))
        .exists()
    )
    pay = select(
        _int("user_id"),
        points,
        points,
        _text("reason"),
        _text("source_kind"),
        _int("source_id"),
        _text("key"),
        _text("note"),
        null(),
        now,
    ).where(points != 0, ~suspended)

    # Reversing: minus what the entry paid, but at most what the person holds now (points
    # already spent stay spent); the level loses all it was paid (so earn-spend-undo cannot
    # keep lifetime points), and spending or its refund leaves the level as it is.
    original = aliased(LedgerEntry, name="original")
    held = func.coalesce(Balance.balance, 0)
    amount = case((original.amount > 0, -_smaller(original.amount, held)), else_=-original.amount)
    lifetime = case((original.reason == "redemption", 0), else_=-original.amount)
    undo = (
        select(
            original.user_id,
            amount,
            lifetime,
            original.reason,
            original.source_kind,
            original.source_id,
            original.idempotency_key + ":reversed",
            _text("note"),
            null(),
            now,
        )
        .outerjoin(Balance, Balance.user_id == original.user_id)
        .where(
            original.idempotency_key == bindparam("key", type_=String),
            or_(amount != 0, lifetime != 0),
        )
    )

    return {"pay_from": pay, "pay": _writer(dialect, pay), "undo": _writer(dialect, undo)}


@functools.lru_cache(maxsize=4)
def _counting_statement(dialect: str, count_up_to: int):
    """Paying by rule, the entry coming back with how many entries paid this rule to the person
    before it, as far as ``count_up_to`` (the new entry is left out by its id: PostgreSQL's
    RETURNING does not see it, SQLite's does). Written out because RETURNING drops the table
    names a subquery would need."""
    paid_before = literal_column(
        "(SELECT count(*) FROM (SELECT 1 FROM ledger_entries AS earlier"
        " WHERE earlier.user_id = ledger_entries.user_id"
        " AND earlier.reason = ledger_entries.reason"
        " AND earlier.amount > 0 AND earlier.id < ledger_entries.id"
        f" LIMIT {int(count_up_to)}) AS paid)",
        Integer,
    )
    pay = _ledger_statements(dialect)["pay_from"]
    return _writer(dialect, pay, paid_before.label("paid_before"))


def _dialect() -> str:
    return db.session.get_bind().dialect.name


@contextmanager
def _no_overdraft() -> Iterator[None]:
    """An entry the balance cannot pay failed the balance's CHECK: a 409 (the request's
    transaction is rolled back with it)."""
    try:
        yield
    except IntegrityError as error:
        if "balances_not_negative" not in str(error.orig):
            raise
        raise Conflict(_("Not enough points for that."), code="insufficient_points") from error


def _write(statement, params: dict | None = None) -> Row | None:
    """Run an INSERT of one ledger entry, the entry written coming back as the first column (or
    nothing when its key was paid already, or it moved nothing). Its balance moves with it."""
    with _no_overdraft():
        return db.session.execute(
            statement, params or {}, execution_options={"populate_existing": True}
        ).first()


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
    lifetime: int | None = None,
) -> LedgerEntry | None:
    """Write one entry, its balance moving with it; None when the key was paid already or
    nothing moves. ``lifetime`` moves lifetime points by other than ``amount``. Spending or a
    deduction the balance does not hold is refused (409)."""
    # Lifetime points (levels) count what was earned: spending, and a refund of spending,
    # leaves them as they are.
    if lifetime is None:
        lifetime = 0 if reason == "redemption" else amount
    if amount == 0 and not lifetime:
        return None
    row = _write(
        upsert(LedgerEntry)
        .values(
            user_id=user_id,
            amount=amount,
            lifetime=lifetime,
            reason=reason,
            source_kind=source_kind,
            source_id=source_id,
            idempotency_key=key,
            note=note[:300],
            actor_id=actor_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(LedgerEntry)
    )
    return row[0] if row else None


def _pay(
    user_id: int,
    code: str,
    *,
    key: str,
    source_kind: str | None,
    source_id: int | None,
    amount: int | None,
    count_up_to: int | None = None,
) -> Row | None:
    default_amount, default_cap, label, _unit = DEFAULT_RULES[code]
    now = utcnow()
    if count_up_to is None:
        statement = _ledger_statements(_dialect())["pay"]
    else:
        statement = _counting_statement(_dialect(), count_up_to)
    params = {
        "user_id": user_id,
        "reason": code,
        "amount": amount,
        "default_amount": default_amount,
        "default_cap": default_cap,
        "day_start": _start_of_day(now),
        "now": now,
        "source_kind": source_kind,
        "source_id": source_id,
        "key": key,
        "note": label,
    }
    return _write(statement, params)


def earn(
    user_id: int,
    code: str,
    *,
    key: str,
    source_kind: str | None = None,
    source_id: int | None = None,
    amount: int | None = None,
) -> LedgerEntry | None:
    """Pay a rule (inside the caller's transaction, in one statement), within its daily cap;
    nothing to a suspended person. ``amount`` overrides the rule's points."""
    row = _pay(user_id, code, key=key, source_kind=source_kind, source_id=source_id, amount=amount)
    return row[0] if row else None


def earn_counting(
    user_id: int,
    code: str,
    *,
    key: str,
    up_to: int,
    source_kind: str | None = None,
    source_id: int | None = None,
) -> int | None:
    """Pay a rule as ``earn`` does, in the same one statement; the number of entries that have
    now paid it to the person, counted as far as ``up_to`` + 1 (so exactly ``up_to`` means this
    entry is the one that reached it); None when this one paid nothing."""
    row = _pay(
        user_id,
        code,
        key=key,
        source_kind=source_kind,
        source_id=source_id,
        amount=None,
        count_up_to=up_to,
    )
    return row[1] + 1 if row else None


def reverse(key: str, *, note: str) -> LedgerEntry | None:
    """Undo the entry paid under ``key`` with a compensating entry (once), in one statement
    inside the caller's transaction. Nothing happens when nothing was paid."""
    row = _write(
        _ledger_statements(_dialect())["undo"], {"key": key, "note": note[:300], "now": utcnow()}
    )
    return row[0] if row else None


def reverse_paid_for_idea(idea_id: int, *, note: str) -> int:
    """Undo every payment made because of the idea (published, supporters, milestones,
    shortlisted), each with its compensating entry, once; inside the caller's transaction.
    How many were undone. Badges stay: they record what happened.

    As ``reverse`` does for one key, for all of them in a few statements, however many people
    supported the idea: the payments not yet undone with what their people hold, then the
    compensating entries in one INSERT per thousand (their balances moving with them)."""
    reversal = aliased(LedgerEntry)
    rows = db.session.execute(
        select(LedgerEntry, Balance.balance)
        .outerjoin(Balance, Balance.user_id == LedgerEntry.user_id)
        .where(
            LedgerEntry.source_kind == "idea",
            LedgerEntry.source_id == idea_id,
            LedgerEntry.amount > 0,
            LedgerEntry.reason != "redemption",
            ~LedgerEntry.idempotency_key.like("%:reversed"),
            ~exists().where(reversal.idempotency_key == LedgerEntry.idempotency_key + ":reversed"),
        )
        .order_by(LedgerEntry.id)
    ).all()
    if not rows:
        return 0
    now = utcnow()
    held: dict[int, int] = {}
    entries = []
    for original, balance in rows:
        left = held.setdefault(original.user_id, balance or 0)
        amount = -min(original.amount, left)  # points already spent stay spent
        held[original.user_id] = left + amount
        entries.append(
            {
                "user_id": original.user_id,
                "amount": amount,
                "lifetime": -original.amount,  # the level loses all it was paid
                "reason": original.reason,
                "source_kind": original.source_kind,
                "source_id": original.source_id,
                "idempotency_key": f"{original.idempotency_key}:reversed",
                "note": note[:300],
                "actor_id": None,
                "created_at": now,
            }
        )
    undone = 0
    for start in range(0, len(entries), _ROWS_PER_INSERT):
        with _no_overdraft():
            inserted = db.session.execute(
                upsert(LedgerEntry)
                .values(entries[start : start + _ROWS_PER_INSERT])
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(LedgerEntry.id)
            ).all()
        undone += len(inserted)
    return undone


# Rows per multi-row INSERT: SQLite takes at most 32,766 bound values in one statement.
_ROWS_PER_INSERT = 1000


def grant(
    user: User, amount: int, *, reason: str, actor: User, request_key: str | None = None
) -> LedgerEntry:
    """An admin's grant (or, negative, deduction) with a reason the person sees.

    ``request_key`` names the request (a form's one-time token, an API Idempotency-Key): the
    same request sent twice grants once, and answers with the first grant."""
    ensure(is_admin(actor), _("Only admins grant points."))
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed(_("Say why."), fields={"reason": [_("Required.")]})
    if amount == 0 or abs(amount) > 1_000_000:
        raise ValidationFailed(
            _("Grant between 1 and 1,000,000 points, or deduct."),
            fields={"amount": [_("Not zero; at most 1,000,000.")]},
        )
    if request_key is not None and not 8 <= len(request_key) <= 80:
        raise ValidationFailed(
            _("A request key has 8 to 80 characters."),
            fields={"request_key": [_("8 to 80 characters.")]},
        )
    key = (
        f"manual:{actor.id}:{request_key}"
        if request_key
        else f"manual:{utcnow().isoformat()}:{user.id}:{actor.id}"
    )
    entry = _credit(user.id, amount, reason="manual", key=key, note=reason, actor_id=actor.id)
    if entry is None:  # this request was made already: the same grant, or a misused key
        db.session.rollback()
        first = db.session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))
        if (first.user_id, first.amount, first.note) != (user.id, amount, reason):
            raise Conflict(
                _("This request key was used for another grant; use a new one."),
                code="key_reused",
            )
        return first
    events.points_granted.send(entry, actor=actor, user=user)
    db.session.commit()
    audit.info(
        "points granted",
        extra={
            "actor": actor.id,
            "user": user.id,
            "amount": amount,
            "reason": reason,
            "entry": entry.id,
        },
    )
    return entry


def manual_grants(*, page: int = 1, per_page: int = 50) -> tuple[list[tuple], bool]:
    """The audit trail of grants and deductions, newest first: (entry, person, admin) rows,
    and whether there are more."""
    admin = db.aliased(User)
    rows = db.session.execute(
        select(LedgerEntry, User, admin)
        .join(User, User.id == LedgerEntry.user_id)
        .outerjoin(admin, admin.id == LedgerEntry.actor_id)
        .where(LedgerEntry.reason == "manual")
        .order_by(LedgerEntry.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    ).all()
    return [tuple(row) for row in rows[:per_page]], len(rows) > per_page


def balance_of(user: User) -> int:
    return db.session.scalar(select(Balance.balance).where(Balance.user_id == user.id)) or 0


def ledger_of(user: User, *, limit: int = 100, offset: int = 0) -> list[LedgerEntry]:
    return list(
        db.session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.user_id == user.id)
            .order_by(LedgerEntry.id.desc())
            .offset(offset)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class Source:
    """What an entry paid for, as the history shows it: a title and where it lives."""

    title: str
    idea_id: int | None = None
    challenge_id: int | None = None
    comment_id: int | None = None


def history(user: User, *, page: int = 1, per_page: int = 50):
    """A page of the person's entries, newest first, each with its source (or None), and
    whether there are more. A fixed number of queries whatever the page holds."""
    entries = ledger_of(user, limit=per_page + 1, offset=(page - 1) * per_page)
    more = len(entries) > per_page
    entries = entries[:per_page]
    sources = describe_sources(entries)
    return [(entry, sources.get((entry.source_kind, entry.source_id))) for entry in entries], more


def describe_sources(entries: list[LedgerEntry]) -> dict[tuple[str, int], Source]:
    wanted: dict[str, set[int]] = {}
    for entry in entries:
        if entry.source_kind and entry.source_id is not None:
            wanted.setdefault(entry.source_kind, set()).add(entry.source_id)
    found: dict[tuple[str, int], Source] = {}
    if wanted.get("idea"):
        for idea_id, title in db.session.execute(
            select(Idea.id, Idea.title).where(Idea.id.in_(wanted["idea"]))
        ):
            found["idea", idea_id] = Source(title, idea_id=idea_id)
    if wanted.get("comment"):
        for comment_id, idea_id, challenge_id, idea_title, challenge_title in db.session.execute(
            select(Comment.id, Comment.idea_id, Comment.challenge_id, Idea.title, Challenge.title)
            .outerjoin(Idea, Idea.id == Comment.idea_id)
            .outerjoin(Challenge, Challenge.id == Comment.challenge_id)
            .where(Comment.id.in_(wanted["comment"]))
        ):
            found["comment", comment_id] = Source(
                idea_title or challenge_title or "",
                idea_id=idea_id,
                challenge_id=challenge_id,
                comment_id=comment_id,
            )
    if wanted.get("challenge"):
        for challenge_id, title in db.session.execute(
            select(Challenge.id, Challenge.title).where(Challenge.id.in_(wanted["challenge"]))
        ):
            found["challenge", challenge_id] = Source(title, challenge_id=challenge_id)
    if wanted.get("redemption"):
        for redemption_id, name in db.session.execute(
            select(Redemption.id, RewardItem.name)
            .join(RewardItem, RewardItem.id == Redemption.item_id)
            .where(Redemption.id.in_(wanted["redemption"]))
        ):
            found["redemption", redemption_id] = Source(name)
    return found


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

UNSET = object()  # an argument not given (None means something)
MAX_COST = MAX_STOCK = 10_000_000
MAX_PER_PERSON = 1_000


def _available_now(now: datetime):
    return and_(
        (RewardItem.active_from.is_(None)) | (RewardItem.active_from <= now),
        (RewardItem.active_until.is_(None)) | (RewardItem.active_until > now),
    )


def catalog() -> list[RewardItem]:
    """Rewards available now, cheapest first."""
    return list(
        db.session.scalars(
            select(RewardItem)
            .where(_available_now(utcnow()))
            .order_by(RewardItem.cost, RewardItem.id)
        )
    )


def all_items() -> list[RewardItem]:
    """Every reward, available or not, newest first (staff)."""
    return list(db.session.scalars(select(RewardItem).order_by(RewardItem.id.desc())))


def get_item(item_id: int) -> RewardItem:
    item = db.session.get(RewardItem, item_id)
    if item is None:
        raise NotFound(_("No such reward."))
    return item


def is_available(item: RewardItem, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return (item.active_from is None or item.active_from <= now) and (
        item.active_until is None or now < item.active_until
    )


def _check_item(
    *,
    name: str,
    cost: int,
    stock: int | None,
    per_person_limit: int | None,
    active_from: datetime | None,
    active_until: datetime | None,
) -> str:
    """The cleaned name; a ValidationFailed naming every bad field."""
    problems: dict[str, list[str]] = {}
    name = " ".join((name or "").split())
    if not 2 <= len(name) <= 120:
        problems["name"] = [_("Between 2 and 120 characters.")]
    if cost is None or not 1 <= cost <= MAX_COST:
        problems["cost"] = [_("From 1 to 10,000,000 points.")]
    if stock is not None and not 0 <= stock <= MAX_STOCK:
        problems["stock"] = [_("From 0 to 10,000,000, or empty for unlimited.")]
    if per_person_limit is not None and not 1 <= per_person_limit <= MAX_PER_PERSON:
        problems["per_person_limit"] = [_("From 1 to 1,000, or empty for no limit.")]
    for field, moment in (("active_from", active_from), ("active_until", active_until)):
        if moment is not None and not _plausible(moment):
            problems[field] = [_("A date between the years 2000 and 9000.")]
    dated = "active_from" not in problems and "active_until" not in problems
    if dated and active_from and active_until and active_until <= active_from:
        problems["active_until"] = [_("After the start.")]
    if problems:
        raise ValidationFailed(_("Please correct the reward."), fields=problems)
    return name


def _plausible(moment: datetime) -> bool:
    """A date the database can keep: timezone-aware and within reason."""
    try:
        return moment.tzinfo is not None and 2000 <= moment.astimezone(UTC).year <= 9000
    except (OverflowError, ValueError):
        return False


def _picture(upload) -> images.ProcessedImage | None:
    if not upload:
        return None
    release_write_lock()  # re-encoding takes a while: not while other writers wait
    return images.process_upload(upload)


def create_item(
    actor: User,
    *,
    name: str,
    cost: int,
    description: str = "",
    stock: int | None = None,
    per_person_limit: int | None = None,
    active_from: datetime | None = None,
    active_until: datetime | None = None,
    image=None,
) -> RewardItem:
    """Add a reward (staff). ``image`` is an uploaded file, checked and re-encoded."""
    ensure(is_staff(actor), _("Only staff manage rewards."))
    name = _check_item(
        name=name,
        cost=cost,
        stock=stock,
        per_person_limit=per_person_limit,
        active_from=active_from,
        active_until=active_until,
    )
    picture = _picture(image)
    item = RewardItem(
        name=name,
        cost=cost,
        description=(description or "").strip()[:2000],
        stock=stock,
        per_person_limit=per_person_limit,
        active_from=active_from,
        active_until=active_until,
        created_at=utcnow(),
    )
    if picture is not None:
        item.image_path = images.save(picture, "rewards")
    db.session.add(item)
    images.commit_or_discard([item.image_path] if picture is not None else [])
    return item


def update_item(
    actor: User,
    item: RewardItem,
    *,
    image=None,
    remove_image: bool = False,
    stock_seen=UNSET,
    **changes,
) -> RewardItem:
    """Change a reward (staff): any of name, description, cost, stock, per_person_limit,
    active_from, active_until, and the picture. Redemptions already made keep their cost.

    Customers may redeem while staff edit. With ``stock_seen`` (the stock the form showed), the
    stock changes only when staff changed it, and only from that value: a Conflict otherwise,
    so a save never puts back units that were sold meanwhile."""
    ensure(is_staff(actor), _("Only staff manage rewards."))
    known = {
        "name",
        "description",
        "cost",
        "stock",
        "per_person_limit",
        "active_from",
        "active_until",
    }
    unknown = set(changes) - known
    if unknown:
        raise ValidationFailed(
            _("Unknown fields."), fields={field: [_("Unknown.")] for field in unknown}
        )
    merged = {field: changes.get(field, getattr(item, field)) for field in known}
    merged["name"] = _check_item(**{k: v for k, v in merged.items() if k != "description"})
    merged["description"] = (merged["description"] or "").strip()[:2000]
    new_stock = merged.pop("stock")
    set_stock = "stock" in changes and (stock_seen is UNSET or new_stock != stock_seen)
    picture = _picture(image)
    for field, value in merged.items():
        setattr(item, field, value)
    if set_stock:
        condition = [RewardItem.id == item.id]
        if stock_seen is not UNSET:
            condition.append(RewardItem.stock.is_not_distinct_from(stock_seen))
        moved = db.session.execute(
            update(RewardItem)
            .where(*condition)
            .values(stock=new_stock)
            .returning(RewardItem.id)
            .execution_options(synchronize_session=False)
        ).first()
        if moved is None:
            message = _("Customers redeemed this reward while you edited: check the stock again.")
            raise Conflict(message, code="stock_changed", fields={"stock": [message]})
    old_path = item.image_path
    written = []
    if picture is not None:
        item.image_path = images.save(picture, "rewards")
        written.append(item.image_path)
    elif remove_image:
        item.image_path = None
    images.commit_or_discard(written)
    if old_path and old_path != item.image_path:
        images.discard([old_path])
    return item


def redemptions_of(user: User) -> list[Redemption]:
    return list(
        db.session.scalars(
            select(Redemption).where(Redemption.user_id == user.id).order_by(Redemption.id.desc())
        )
    )


def get_redemption(redemption_id: int) -> Redemption:
    redemption = db.session.get(Redemption, redemption_id)
    if redemption is None:
        raise NotFound(_("No such redemption."))
    return redemption


REDEMPTION_STATUSES = ("requested", "fulfilled", "cancelled")


def redemption_queue(
    *, status: str = "requested", page: int = 1, per_page: int = 50
) -> tuple[list[Redemption], bool]:
    """Staff's fulfilment queue: oldest request first (newest first for decided ones), with the
    person and the item loaded; and whether there are more."""
    if status not in REDEMPTION_STATUSES:
        raise ValidationFailed(
            _("Choose requested, fulfilled or cancelled."),
            fields={"status": list(REDEMPTION_STATUSES)},
        )
    order = Redemption.id if status == "requested" else Redemption.id.desc()
    rows = list(
        db.session.scalars(
            select(Redemption)
            .options(db.joinedload(Redemption.user), db.joinedload(Redemption.decided_by))
            .where(Redemption.status == status)
            .order_by(order)
            .offset((page - 1) * per_page)
            .limit(per_page + 1)
        )
    )
    return rows[:per_page], len(rows) > per_page


def queue_size() -> int:
    return db.session.scalar(
        select(func.count()).select_from(Redemption).where(Redemption.status == "requested")
    )


def redeem(user: User, item_id: int, *, expected_cost: int | None = None) -> Redemption:
    """Spend points on a reward. Stock moves in a conditional update and points by an entry the
    balance must hold (its CHECK), in one transaction, so no balance goes negative and no item
    oversells, however many try at once.
    ``expected_cost`` is the price the person confirmed: a reward repriced meanwhile is refused
    rather than charged."""
    ensure(signed_in(user), _("Log in to redeem rewards."))
    item = db.session.get(RewardItem, item_id)
    now = utcnow()
    if item is None:
        raise NotFound(_("No such reward."))
    if not is_available(item, now):
        raise Conflict(_("This reward is not available now."), code="not_available")
    # Take one from stock first: the UPDATE locks the item's row (on PostgreSQL; SQLite's write
    # lock is already held), so one person's parallel requests are counted one after the other.
    taken = db.session.execute(
        update(RewardItem)
        .where(RewardItem.id == item.id, (RewardItem.stock.is_(None)) | (RewardItem.stock > 0))
        .values(stock=RewardItem.stock - 1)
        .returning(RewardItem.cost)
        .execution_options(synchronize_session=False)
    ).first()
    if taken is None:
        raise Conflict(_("Sorry, this reward is out of stock."), code="out_of_stock")
    # The price as it is now that the row is ours, not as it was read before.
    cost = taken.cost
    if expected_cost is not None and expected_cost != cost:
        raise Conflict(
            _("This reward now costs %(cost)s points; please confirm again.", cost=cost),
            code="cost_changed",
        )
    if item.per_person_limit is not None:
        already = db.session.scalar(
            select(func.count())
            .select_from(Redemption)
            .where(
                Redemption.user_id == user.id,
                Redemption.item_id == item.id,
                Redemption.status != "cancelled",
            )
        )
        if already >= item.per_person_limit:
            raise Conflict(
                _("You have redeemed this reward as often as it allows."), code="limit_reached"
            )
    redemption = Redemption(user_id=user.id, item_id=item.id, cost=cost, created_at=now)
    db.session.add(redemption)
    db.session.flush()
    _credit(
        user.id,
        -cost,
        reason="redemption",
        key=f"redemption:{redemption.id}",
        source_kind="redemption",
        source_id=redemption.id,
        note=item.name,
    )
    events.redemption_requested.send(redemption, user=user)
    db.session.commit()
    return redemption


def _decide(redemption: Redemption, status: str, *, actor: User, note: str) -> bool:
    """Move a requested redemption to ``status``; False when it was decided already."""
    return (
        db.session.execute(
            update(Redemption)
            .where(Redemption.id == redemption.id, Redemption.status == "requested")
            .values(
                status=status,
                decided_at=utcnow(),
                decided_by_id=actor.id,
                staff_note=" ".join((note or "").split())[:500],
            )
            .returning(Redemption.id)
            .execution_options(synchronize_session=False)
        ).first()
        is not None
    )


def fulfil_redemption(redemption: Redemption, *, actor: User, note: str = "") -> Redemption:
    """Staff mark a request as sent or handed over; the customer is told."""
    ensure(is_staff(actor), _("Only staff fulfil rewards."))
    if not _decide(redemption, "fulfilled", actor=actor, note=note):
        raise Conflict(_("Only a requested redemption can be fulfilled."), code="not_requested")
    db.session.refresh(redemption)
    events.redemption_decided.send(redemption, actor=actor)
    db.session.commit()
    return redemption


def cancel_redemption(redemption: Redemption, *, actor: User, note: str = "") -> Redemption:
    """Cancel a requested redemption: the points come back and the item returns to stock."""
    ensure(is_staff(actor) or actor.id == redemption.user_id, _("Not yours to cancel."))
    if not _decide(redemption, "cancelled", actor=actor, note=note):
        raise Conflict(_("Only a requested redemption can be cancelled."), code="not_requested")
    db.session.execute(
        update(RewardItem)
        .where(RewardItem.id == redemption.item_id, RewardItem.stock.is_not(None))
        .values(stock=RewardItem.stock + 1)
        .execution_options(synchronize_session=False)
    )
    reverse(f"redemption:{redemption.id}", note=_("Redemption cancelled"))
    db.session.refresh(redemption)
    events.redemption_decided.send(redemption, actor=actor)
    db.session.commit()
    return redemption


# --- levels and leaderboards ----------------------------------------------------------------

# Lifetime points at which each level starts: level 1 from 0, level 2 from 100, … (config
# REWARD_LEVELS changes them).
DEFAULT_LEVELS = (0, 100, 500, 2_000, 5_000)
PERIODS = ("week", "month", "all")


def level_thresholds() -> tuple[int, ...]:
    return tuple(current_app.config.get("REWARD_LEVELS") or DEFAULT_LEVELS)


def level_for(lifetime: int, thresholds: tuple[int, ...] | None = None) -> int:
    thresholds = thresholds if thresholds is not None else level_thresholds()
    return sum(1 for start in thresholds if lifetime >= start)


def lifetime_of(user_id: int) -> int:
    return db.session.scalar(select(Balance.lifetime).where(Balance.user_id == user_id)) or 0


def level_abilities() -> dict[str, int]:
    """Each ability a level unlocks, with the level it needs (config REWARD_LEVEL_ABILITIES)."""
    return dict(current_app.config.get("REWARD_LEVEL_ABILITIES") or {})


def grants_by_level(user, ability: str) -> bool:
    """The rewards module's answer to app.abilities.allows: has the person's level unlocked
    ``ability``?"""
    needed = level_abilities().get(ability)
    return needed is not None and level_for(lifetime_of(user.id)) >= needed


def standing(user: User) -> dict[str, int | None]:
    """Balance, lifetime points, level, and the points still needed for the next level."""
    row = db.session.execute(
        select(Balance.balance, Balance.lifetime).where(Balance.user_id == user.id)
    ).first()
    balance, lifetime = (row.balance, row.lifetime) if row else (0, 0)
    thresholds = level_thresholds()
    level = level_for(lifetime, thresholds)
    following = thresholds[level] if level < len(thresholds) else None
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
    if period not in PERIODS:
        raise ValidationFailed(_("Choose week, month or all."), fields={"period": list(PERIODS)})
    now = utcnow()
    return {"week": now - timedelta(days=7), "month": now - timedelta(days=30), "all": None}[period]


def _in_challenge(challenge_id: int):
    """Entries earned in a challenge: on its ideas, in conversations on them or on the
    challenge, and its winner's bonus."""
    ideas = select(Idea.id).where(Idea.challenge_id == challenge_id)
    comments = select(Comment.id).where(
        or_(Comment.idea_id.in_(ideas), Comment.challenge_id == challenge_id)
    )
    return or_(
        and_(LedgerEntry.source_kind == "idea", LedgerEntry.source_id.in_(ideas)),
        and_(LedgerEntry.source_kind == "comment", LedgerEntry.source_id.in_(comments)),
        and_(LedgerEntry.source_kind == "challenge", LedgerEntry.source_id == challenge_id),
    )


def leaderboard(
    *,
    period: str = "week",
    viewer: User | None = None,
    limit: int = 20,
    challenge_id: int | None = None,
) -> tuple[list[Standing], Standing | None]:
    """Who earned most in the period (spending and admins' grants do not count), overall or in
    one challenge; ties by who got there first; and the viewer's own standing, even outside
    the top."""
    start = _period_start(period)
    if challenge_id is not None and db.session.get(Challenge, challenge_id) is None:
        raise NotFound(_("No such challenge."))
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
    if challenge_id is not None:
        earned = earned.where(_in_challenge(challenge_id))
    earned = earned.subquery()
    ranked = (
        select(
            earned.c.user_id,
            User.display_name,
            earned.c.points,
            func.rank().over(order_by=(earned.c.points.desc(), earned.c.last)).label("rank"),
        )
        .join(User, User.id == earned.c.user_id)
        .where(earned.c.points > 0, ~User.suspended_on(utcnow()))  # suspended people are not shown
        .subquery()
    )
    top = [
        Standing(r.rank, r.user_id, r.display_name, r.points)
        for r in db.session.execute(select(ranked).order_by(ranked.c.rank).limit(limit))
    ]
    mine = None
    if signed_in(viewer):
        mine = next((s for s in top if s.user_id == viewer.id), None)
        if mine is None:
            row = db.session.execute(select(ranked).where(ranked.c.user_id == viewer.id)).first()
            mine = Standing(row.rank, row.user_id, row.display_name, row.points) if row else None
    return top, mine


# --- royalties ------------------------------------------------------------------------------


def pay_royalty(*, run_id: int, idea_id: int, revenue_cents: int) -> LedgerEntry | None:
    """Credit the author of an adopted idea the royalty share of a production run's confirmed
    pre-order revenue, as points, once per run (inside the caller's transaction)."""
    idea = db.session.get(Idea, idea_id)
    if idea is None or idea.author_id is None or revenue_cents <= 0:
        return None
    rule = rules()["royalty"]
    cents_per_point = current_app.config.get("REWARD_ROYALTY_CENTS_PER_POINT", 100)
    points = revenue_cents * rule.amount // (100 * cents_per_point)
    return _credit(
        idea.author_id,
        points,
        reason="royalty",
        key=f"royalty:{run_id}",
        source_kind="idea",
        source_id=idea.id,
        note=rule.label,
    )
