"""Customer pages: my points and their history, the leaderboard, the reward catalog, redeeming
and my rewards. Staff pages live in admin.py.

Every form here is a plain POST with a CSRF token and a redirect; a refused redemption (too few
points, out of stock, the limit reached) comes back to the catalog with the reason flashed.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.abilities import ABILITIES
from app.accounts.forms import ActionForm
from app.accounts.permissions import signed_in
from app.errors import DomainError, Forbidden, NotFound
from app.extensions import db
from app.ideas import services as ideas
from app.rewards import badges, services
from app.web import register_panel

bp = Blueprint("rewards", __name__, template_folder="templates")

PER_PAGE = 50
LEADERBOARD_SIZE = 20

# What each ledger reason means to the person reading their history ("manual" grants read
# "From the <site> team" in the template).
REASON_LABELS = {
    "idea_published": _l("Idea published"),
    "supporter": _l("Someone supported your idea"),
    "comment": _l("Joined a conversation"),
    "shortlisted": _l("Idea shortlisted"),
    "adopted": _l("Idea adopted"),
    "milestone": _l("Idea reached a milestone"),
    "challenge_winner": _l("Challenge won"),
    "royalty": _l("Royalty on a production run"),
    "redemption": _l("Reward redeemed"),
}

# What each ability unlocked by a level lets the person do (app.abilities.ABILITIES, translated).
ABILITY_LABELS = {
    "skip_premoderation": _l("Your ideas are published at once, without waiting for moderation."),
}

PERIOD_LABELS = {"week": _l("This week"), "month": _l("This month"), "all": _l("All time")}

STATUS_LABELS = {
    "requested": _l("Requested"),
    "fulfilled": _l("Fulfilled"),
    "cancelled": _l("Cancelled"),
}


def _page() -> int:
    """The ?page= asked for: anything unreadable or below 1 is the first page; a page past
    ideas.PAGE_MAX (the board's limit, whose offset the database might not even hold) is a 404."""
    page = request.args.get("page", 1, type=int)
    if page > ideas.PAGE_MAX:
        abort(404)
    return max(page, 1)


def _challenge_id() -> int | None:
    """The ?challenge= filter: empty is none; anything that cannot be a challenge is a 404."""
    raw = (request.args.get("challenge") or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) < 11 and 1 <= int(raw) <= 2**31 - 1):
        raise NotFound(_("No such challenge."))
    return int(raw)


def _abilities() -> list[tuple[str, int, str]]:
    """(ability, level needed, what it means), lowest level first."""
    return sorted(
        (
            (code, level, str(ABILITY_LABELS.get(code) or ABILITIES.get(code, code)))
            for code, level in services.level_abilities().items()
        ),
        key=lambda row: (row[1], row[0]),
    )


def _progress(standing: dict) -> tuple[int, int]:
    """Points made in the current level and the points the level spans (0 at the top level)."""
    thresholds = services.level_thresholds()
    start = thresholds[standing["level"] - 1] if standing["level"] else 0
    if standing["to_next_level"] is None:
        return standing["lifetime"] - start, 0
    return standing["lifetime"] - start, standing["to_next_level"] + standing["lifetime"] - start


# --- my points ------------------------------------------------------------------------------


@bp.get("/points")
@login_required
def points():
    page = _page()
    standing = services.standing(current_user)
    entries, more = services.history(current_user, page=page, per_page=PER_PAGE)
    earned = badges.badges_of(current_user.id)
    earned_codes = {badge.code for badge, _awarded in earned}
    done, span = _progress(standing)
    return render_template(
        "rewards/points.html",
        standing=standing,
        progress_done=done,
        progress_span=span,
        abilities=_abilities(),
        earned=earned,
        unearned=[badge for code, badge in badges.BADGES.items() if code not in earned_codes],
        entries=entries,
        page=page,
        prev_url=url_for("rewards.points", page=page - 1) if page > 1 else None,
        next_url=url_for("rewards.points", page=page + 1) if more else None,
        reasons=REASON_LABELS,
        rule_notes={code: rule[2] for code, rule in services.DEFAULT_RULES.items()},
    )


# --- the leaderboard ------------------------------------------------------------------------


@bp.get("/leaderboard")
def leaderboard():
    """A bad period is a 422 page naming the choices; an unknown challenge a 404 page."""
    period = request.args.get("period") or "week"
    challenge_id = _challenge_id()
    top, mine = services.leaderboard(
        period=period, viewer=current_user, limit=LEADERBOARD_SIZE, challenge_id=challenge_id
    )
    return render_template(
        "rewards/leaderboard.html",
        period=period,
        periods=PERIOD_LABELS,
        challenge_id=challenge_id,
        challenges=ideas.list_challenges(),
        top=top,
        mine=mine,
        mine_outside=mine is not None and all(row.user_id != mine.user_id for row in top),
    )


# --- the catalog and redeeming --------------------------------------------------------------


def _balance() -> int | None:
    return services.balance_of(current_user) if signed_in(current_user) else None


@bp.get("/rewards")
def catalog():
    return render_template(
        "rewards/catalog.html", items=services.catalog(), balance=_balance(), form=ActionForm()
    )


@bp.get("/rewards/<int:item_id>")
def item(item_id: int):
    """The confirmation step before redeeming: the cost and the balance it leaves."""
    reward = services.get_item(item_id)
    return render_template(
        "rewards/item.html",
        item=reward,
        available=services.is_available(reward),
        balance=_balance(),
        form=ActionForm(),
    )


@bp.post("/rewards/<int:item_id>/redeem")
@login_required
def redeem(item_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        # The price the person confirmed: a reward repriced meanwhile is refused, not charged.
        confirmed = request.form.get("cost", type=int)
        redemption = services.redeem(current_user, item_id, expected_cost=confirmed)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        if error.code == "cost_changed":
            return redirect(url_for("rewards.item", item_id=item_id))
        return redirect(url_for("rewards.catalog"))
    flash(
        _(
            "You redeemed %(name)s for %(cost)s points. We will let you know when it is on its "
            "way.",
            name=redemption.item.name,
            cost=redemption.cost,
        ),
        "success",
    )
    return redirect(url_for("rewards.mine"))


# --- my rewards -----------------------------------------------------------------------------


@bp.get("/me/rewards")
@login_required
def mine():
    return render_template(
        "rewards/mine.html",
        redemptions=services.redemptions_of(current_user),
        balance=services.balance_of(current_user),
        statuses=STATUS_LABELS,
        form=ActionForm(),
    )


@bp.post("/me/rewards/<int:redemption_id>/cancel")
@login_required
def cancel(redemption_id: int):
    redemption = services.get_redemption(redemption_id)
    # Staff may cancel anyone's request, but from the fulfilment queue, with a note for the
    # customer; this page is the customer's own.
    if redemption.user_id != current_user.id:
        raise Forbidden(_("Not yours to cancel."))
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.cancel_redemption(redemption, actor=current_user)
    except DomainError as error:
        if error.status != 409:
            raise
        db.session.rollback()
        flash(error.message, "warning")
    else:
        flash(
            _("Cancelled: %(cost)s points are back in your balance.", cost=redemption.cost),
            "success",
        )
    return redirect(url_for("rewards.mine"))


# --- what the templates of every page may use -----------------------------------------------


def nav_points() -> int:
    """The signed-in person's balance for the navigation, loaded with them (no query)."""
    row = current_user.balance_row
    return row.balance if row is not None else 0


def profile_rewards(person) -> dict:
    """A person's standing and badges (with award dates) for their profile: two queries."""
    return {"standing": services.standing(person), "badges": badges.badges_of(person.id)}


@bp.app_context_processor
def _rewards_context() -> dict:
    return {"nav_points": nav_points, "profile_rewards": profile_rewards}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register_panel(app, "main_nav", "rewards/_main_nav.html")
    register_panel(app, "nav", "rewards/_nav_points.html")
    register_panel(app, "profile", "rewards/_profile_panel.html")
