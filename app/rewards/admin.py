"""Staff pages for rewards: earning rules, the reward catalog, the fulfilment queue, grants.

Rules and grants are the admins'; the catalog and the queue belong to all staff. Rows change
in place through htmx; every form also works as a plain POST that redirects with a flash.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.abilities import ABILITIES
from app.accounts import services as accounts
from app.accounts.forms import ActionForm
from app.accounts.permissions import is_admin, is_staff, permission_required
from app.database import utcnow
from app.errors import DomainError, ValidationFailed
from app.extensions import db
from app.rewards import services
from app.rewards.admin_forms import DecisionForm, GrantForm, ItemForm, RuleForm
from app.web import register_panel, safe_next, show_form_errors

bp = Blueprint("rewards_admin", __name__, url_prefix="/admin/rewards", template_folder="templates")

# What each rule pays for, as staff read it (the label is what the person earning sees).
RULE_NAMES = {
    "idea_published": _l("An idea is published"),
    "supporter": _l("Someone supports an idea (paid to its author)"),
    "comment": _l("A comment in a conversation"),
    "shortlisted": _l("An idea is shortlisted"),
    "adopted": _l("An idea is adopted"),
    "milestone": _l("An idea reaches a supporter milestone"),
    "challenge_winner": _l("An idea wins a challenge"),
    "royalty": _l("Royalty on a production run"),
}
UNIT_NAMES = {
    services.POINTS: _l("points"),
    services.PERCENT: _l("% of revenue"),
    services.BONUS: _l("the challenge's bonus"),
}
STATUS_NAMES = {
    "requested": _l("requested"),
    "fulfilled": _l("fulfilled"),
    "cancelled": _l("cancelled"),
}
# Service field names that the item form spells differently.
ITEM_FIELDS = {"images": "image"}
MAX_PAGE = 100_000


def _is_htmx() -> bool:
    return bool(request.headers.get("HX-Request"))


def _page() -> int:
    page = request.args.get("page", 1, type=int)
    if not 1 <= page <= MAX_PAGE:
        abort(404)
    return page


@bp.app_template_global("reward_queue_size")
def _reward_queue_size() -> int:
    """Requests waiting for staff, counted once per request (the menu and the queue show it)."""
    if "reward_queue_size" not in g:
        g.reward_queue_size = services.queue_size()
    return g.reward_queue_size


bp.add_app_template_global(is_admin, "is_admin")


# --- earning rules --------------------------------------------------------------------------


def _rule_form(rule: services.Rule) -> RuleForm:
    return RuleForm(
        formdata=None, prefix=rule.code, data={"amount": rule.amount, "daily_cap": rule.daily_cap}
    )


def _rule_row(rule: services.Rule, form: RuleForm, *, error=None, saved: str | None = None):
    return render_template(
        "rewards/admin/_rule_row.html",
        rule=rule,
        form=form,
        error=error,
        saved=saved,
        **_rule_context(),
    )


def _rule_context() -> dict:
    return {
        "rule_names": RULE_NAMES,
        "unit_names": UNIT_NAMES,
        "defaults": services.DEFAULT_RULES,
        "action_form": ActionForm(),
    }


@bp.route("/rules", methods=["GET", "POST"])
@permission_required(is_admin)
def rules():
    """The rules in force. A POST names its row (``rule``) and either saves it or resets it
    (``action=reset``); htmx gets the row back, a browser the page."""
    current = services.rules()
    forms: dict[str, RuleForm] = {}
    errors: dict[str, DomainError] = {}
    status = 200
    if request.method == "POST":
        code = request.form.get("rule", "")
        if code not in current:
            abort(404)
        rule = current[code]
        error = saved = None
        if request.form.get("action") == "reset":
            form = None
            if not ActionForm().validate_on_submit():
                abort(400)
            rule = services.reset_rule(current_user, code)
            saved = _("Back to the default.")
        else:
            form = RuleForm(prefix=code)
            if form.validate_on_submit():
                try:
                    rule = services.set_rule(
                        current_user,
                        code,
                        amount=form.amount.data,
                        # Only a rule paid in points has a daily cap.
                        daily_cap=form.daily_cap.data if rule.unit == services.POINTS else None,
                    )
                except DomainError as exc:
                    db.session.rollback()
                    status = show_form_errors(form, exc)
                    error = exc
                else:
                    saved = _("Saved. It applies from now on.")
            else:
                status = 422
                error = ValidationFailed(_("Please correct the rule."))
        if _is_htmx():
            shown = form if error else _rule_form(rule)
            return _rule_row(rule, shown, error=error, saved=saved), status
        if error is None:
            flash(_("%(rule)s: %(saved)s", rule=RULE_NAMES[code], saved=saved), "success")
            return redirect(url_for("rewards_admin.rules", _anchor=f"rule-{code}"))
        forms[code], errors[code] = form, error
    rows = [
        (rule, forms.get(code) or _rule_form(rule), errors.get(code))
        for code, rule in current.items()
    ]
    levels = services.level_thresholds()
    abilities = sorted(
        (
            (level, ability, ABILITIES.get(ability, ""))
            for ability, level in services.level_abilities().items()
        ),
        key=lambda row: (row[0], row[1]),
    )
    return render_template(
        "rewards/admin/rules.html",
        rows=rows,
        levels=levels,
        abilities=abilities,
        **_rule_context(),
    ), status


# --- the reward catalog ---------------------------------------------------------------------


def _availability(item, now) -> str:
    if services.is_available(item, now):
        return "available"
    if item.active_from is not None and item.active_from > now:
        return "scheduled"
    return "ended"


@bp.get("/items")
@permission_required(is_staff)
def items():
    now = utcnow()
    rows = [(item, _availability(item, now)) for item in services.all_items()]
    return render_template("rewards/admin/items.html", rows=rows)


def _item_values(form: ItemForm) -> dict:
    return {
        "name": form.name.data,
        "description": form.description.data or "",
        "cost": form.cost.data,
        "stock": form.stock.data,
        "per_person_limit": form.per_person_limit.data,
        "active_from": form.active_from.data,
        "active_until": form.active_until.data,
    }


def _stock_text(stock: int | None) -> str:
    return "" if stock is None else str(stock)


def _seen_stock(text: str | None):
    """The stock the form was opened with: None for unlimited; UNSET when missing or garbled
    (then the stock typed in is set as it is)."""
    if text is None:
        return services.UNSET
    text = text.strip()
    if not text:
        return None
    digits = text.isascii() and text.isdecimal() and len(text) <= 9
    return int(text) if digits else services.UNSET


def _upload(form: ItemForm):
    return form.image.data if getattr(form.image.data, "filename", "") else None


@bp.route("/items/new", methods=["GET", "POST"])
@permission_required(is_staff)
def new_item():
    form = ItemForm()
    del form.remove_image
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            item = services.create_item(current_user, image=_upload(form), **_item_values(form))
        except DomainError as error:
            db.session.rollback()
            status = show_form_errors(form, error, aliases=ITEM_FIELDS)
        else:
            flash(_("“%(name)s” is in the catalog.", name=item.name), "success")
            return redirect(url_for("rewards_admin.items"))
    return render_template(
        "rewards/admin/item_form.html", form=form, item=None, now=utcnow()
    ), status


@bp.route("/items/<int:item_id>", methods=["GET", "POST"])
@permission_required(is_staff)
def edit_item(item_id: int):
    item = services.get_item(item_id)
    form = ItemForm(obj=item)
    if not item.image_path:
        del form.remove_image
    if not form.is_submitted():
        form.stock_seen.data = _stock_text(item.stock)
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            services.update_item(
                current_user,
                item,
                image=_upload(form),
                remove_image=bool(form.remove_image and form.remove_image.data),
                stock_seen=_seen_stock(form.stock_seen.data),
                **_item_values(form),
            )
        except DomainError as error:
            db.session.rollback()
            status = show_form_errors(form, error, aliases=ITEM_FIELDS)
            if error.code == "stock_changed":  # offer the stock as it is now
                form.stock_seen.data = _stock_text(services.get_item(item_id).stock)
        else:
            flash(_("“%(name)s” is saved.", name=item.name), "success")
            return redirect(url_for("rewards_admin.items"))
    return render_template(
        "rewards/admin/item_form.html", form=form, item=item, now=utcnow()
    ), status


# --- the fulfilment queue -------------------------------------------------------------------


@bp.get("/queue")
@permission_required(is_staff)
def queue():
    """Requests oldest first, so nobody waits longest; decided ones newest first."""
    status = request.args.get("status", "requested")
    page = _page()
    rows, more = services.redemption_queue(status=status, page=page)
    return render_template(
        "rewards/admin/queue.html",
        rows=rows,
        status=status,
        page=page,
        more=more,
        statuses=services.REDEMPTION_STATUSES,
        status_names=STATUS_NAMES,
        action_form=ActionForm(),
    )


def _decide(redemption_id: int, decision: str):
    redemption = services.get_redemption(redemption_id)
    form = DecisionForm()
    error = None
    if form.validate_on_submit():
        try:
            if decision == "fulfil":
                services.fulfil_redemption(redemption, actor=current_user, note=form.note.data)
            else:
                services.cancel_redemption(redemption, actor=current_user, note=form.note.data)
        except DomainError as exc:
            db.session.rollback()
            error = exc
            if exc.code == "not_requested":
                # Another member of staff got there first: say what it is now.
                error = type(exc)(
                    _(
                        "Someone already dealt with this request: it is %(status)s now.",
                        status=STATUS_NAMES[redemption.status],
                    ),
                    code=exc.code,
                )
    else:
        error = ValidationFailed(
            _("The note can be at most 500 characters."), fields={"note": form.note.errors}
        )
    if _is_htmx():
        return render_template(
            "rewards/admin/_redemption_row.html",
            r=redemption,
            error=error,
            status_names=STATUS_NAMES,
            action_form=ActionForm(),
        ), (error.status if error else 200)
    if error:
        flash(error.message, "danger")
    elif decision == "fulfil":
        flash(
            _(
                "“%(item)s” for %(name)s is fulfilled; they have been told.",
                item=redemption.item.name,
                name=redemption.user.display_name,
            ),
            "success",
        )
    else:
        flash(
            _(
                "“%(item)s” for %(name)s is cancelled; %(points)s points went back to them.",
                item=redemption.item.name,
                name=redemption.user.display_name,
                points=redemption.cost,
            ),
            "success",
        )
    return redirect(safe_next(url_for("rewards_admin.queue")))


@bp.post("/redemptions/<int:redemption_id>/fulfil")
@permission_required(is_staff)
def fulfil(redemption_id: int):
    return _decide(redemption_id, "fulfil")


@bp.post("/redemptions/<int:redemption_id>/cancel")
@permission_required(is_staff)
def cancel(redemption_id: int):
    return _decide(redemption_id, "cancel")


# --- manual grants --------------------------------------------------------------------------


@bp.route("/grants", methods=["GET", "POST"])
@permission_required(is_admin)
def grants():
    form = GrantForm()
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        person = accounts.get_user_by_email(form.email.data)
        if person is None:
            form.email.errors = [*form.email.errors, _("Nobody has an account with this address.")]
        else:
            try:
                entry = services.grant(
                    person,
                    form.amount.data,
                    reason=form.reason.data,
                    actor=current_user,
                    request_key=(form.request_key.data or "")[:80] or None,
                )
            except DomainError as error:
                db.session.rollback()
                if error.code == "insufficient_points":
                    message = _(
                        "%(name)s has only %(points)s points: deduct at most that.",
                        name=person.display_name,
                        points=services.balance_of(person),
                    )
                    form.amount.errors = [*form.amount.errors, message]
                    status = error.status
                else:
                    status = show_form_errors(form, error)
            else:
                if entry.amount > 0:
                    message = _(
                        "%(points)s points granted to %(name)s.",
                        points=entry.amount,
                        name=person.display_name,
                    )
                else:
                    message = _(
                        "%(points)s points deducted from %(name)s.",
                        points=-entry.amount,
                        name=person.display_name,
                    )
                flash(message, "success")
                return redirect(url_for("rewards_admin.grants"))
    page = _page()
    rows, more = services.manual_grants(page=page)
    # A new token for each form shown: nothing was granted with the old one, or we would have
    # redirected; sending this form twice grants once.
    form.request_key.data = secrets.token_urlsafe(16)
    return render_template(
        "rewards/admin/grants.html", form=form, rows=rows, page=page, more=more
    ), status


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register_panel(app, "admin_menu", "rewards/admin/_menu.html")
