from __future__ import annotations

import hashlib
import time
from datetime import UTC

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.accounts.forms import ActionForm, LazyActionForm
from app.accounts.permissions import (
    can_manage_categories,
    can_moderate,
    is_product_team,
    permission_required,
)
from app.database import utcnow
from app.errors import DomainError, NotFound
from app.extensions import db
from app.i18n import ago
from app.ideas import services
from app.ideas.forms import (
    CategoryForm,
    ChallengeForm,
    IdeaEditForm,
    IdeaForm,
    MergeForm,
    StatusForm,
)
from app.ideas.models import Category, Challenge, Idea
from app.ideas.workflow import HIDDEN, STATUS_LABELS, moves_for
from app.links import idea_links
from app.web import safe_next, show_form_errors

bp = Blueprint("ideas", __name__, template_folder="templates")
bp.add_app_template_global(idea_links, "idea_links")


@bp.app_template_global()
def card_key(card: services.IdeaCard) -> str:
    """Everything an idea card shows, its support button's count and status included: the key
    under which it is kept rendered, so any change to what it shows makes a new entry."""
    return repr(
        (
            card.id,
            card.status,
            card.title,
            card.updated_at,
            card.author.display_name,
            card.category,
            card.comment_count,
            card.vote_count,
            card.tags,
            card.images,
            ago(card.created_at),
        )
    )


@bp.app_template_global()
def board_key(page: services.IdeaPage, categories: list[services.CategoryRef]) -> str:
    """The key under which the idea board is kept for people signed out: what each card shows
    (as card_key names it, without the relative time), the pages around them, the categories
    offered, and the minute, so that "5 minutes ago" is at most a minute behind. Built from
    plain values and hashed: cheaper than thirty card keys, and short."""
    shown = [
        (
            card.id,
            card.status,
            card.title,
            card.updated_at,
            card.author.display_name,
            card.category and (card.category.id, card.category.name, card.category.slug),
            card.comment_count,
            card.vote_count,
            [tag.name for tag in card.tags],
            [(image.path, image.width, image.height) for image in card.images],
        )
        for card in page.items
    ]
    offered = [(category.slug, category.name) for category in categories]
    around = (page.sort, page.page, page.has_prev, page.has_next, int(time.time() // 60))
    return hashlib.blake2b(repr((shown, offered, around)).encode(), digest_size=16).hexdigest()


FILTERS = ("sort", "q", "category", "tag", "status", "challenge")


FIELD_ALIASES = {"category": "category_id", "challenge": "challenge_id"}


def _show_errors(form, error: DomainError) -> int:
    return show_form_errors(form, error, aliases=FIELD_ALIASES)


def _choices(form: IdeaForm, *, with_challenges: bool = True) -> None:
    form.category_id.choices = [(None, _("No category"))] + [
        (c.id, c.name) for c in services.list_categories()
    ]
    if with_challenges:
        now = utcnow()
        form.challenge_id.choices = [(None, _("No challenge"))] + [
            (c.id, c.title) for c in services.open_challenges(now)
        ]


# --- the board ------------------------------------------------------------------------------


@bp.get("/ideas")
def index():
    args = {key: request.args.get(key) or None for key in FILTERS}
    try:
        page = services.list_ideas(
            viewer=current_user,
            page=request.args.get("page", 1, type=int),
            **{**args, "challenge": request.args.get("challenge", type=int)},
        )
    except DomainError as error:
        flash(error.message, "warning")
        page = services.list_ideas(viewer=current_user)
        args = dict.fromkeys(FILTERS)
    template = (
        "ideas/_idea_list.html"
        if request.headers.get("HX-Target") == "idea-list"
        else ("ideas/list.html")
    )
    return render_template(
        template,
        page=page,
        filters=args,
        categories=services.category_refs(),
        statuses=STATUS_LABELS,
        hidden_statuses=HIDDEN,
        action_form=LazyActionForm(),
    )


@bp.get("/ideas/similar")
def similar():
    """The similar-ideas hint under the title field (htmx)."""
    title = request.args.get("title", "")[:200]
    ideas = services.similar_ideas(title) if len(title.strip()) >= 3 else []
    return render_template("ideas/_similar.html", ideas=ideas)


@bp.route("/ideas/new", methods=["GET", "POST"])
@login_required
def new():
    form = IdeaForm()
    _choices(form)
    if request.method == "GET" and request.args.get("challenge", type=int):
        form.challenge_id.data = request.args.get("challenge", type=int)
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            idea = services.submit_idea(
                current_user,
                title=form.title.data,
                body=form.body.data,
                category_id=form.category_id.data,
                challenge_id=form.challenge_id.data,
                tags=form.tags.data,
                uploads=[f for f in form.images.data if getattr(f, "filename", "")],
            )
        except DomainError as error:
            status = _show_errors(form, error)
        else:
            if idea.status == "pending":
                flash(_("Thanks! A moderator will look at your idea shortly."), "info")
            else:
                flash(_("Your idea is live. Share it to gather supporters!"), "success")
            return redirect(url_for("ideas.detail", idea_id=idea.id))
    similar = services.similar_ideas(form.title.data or "") if form.title.data else []
    return render_template("ideas/new.html", form=form, similar=similar), status


@bp.get("/ideas/<int:idea_id>")
def detail(idea_id: int):
    idea, supported = services.get_idea_to_show(idea_id, viewer=current_user)
    history = services.history_of(idea)
    moves = moves_for(current_user, idea.status)
    return render_template(
        "ideas/detail.html",
        idea=idea,
        supported={idea.id} if supported else set(),
        timeline=history.timeline,
        milestones=history.milestones,
        merges=history.merges,
        moves=moves,
        status_form=StatusForm(formdata=None) if moves else None,
        merge_form=MergeForm(formdata=None) if can_moderate(current_user) else None,
        action_form=LazyActionForm(),
        statuses=STATUS_LABELS,
        can_edit=services.can_edit(current_user, idea),
    )


@bp.get("/ideas/<int:idea_id>/similar")
def similar_to(idea_id: int):
    """Look-alikes of an idea, beside it on its page (htmx, once the page is shown).

    A full-text search over every idea is the slowest part of the page, and the least needed:
    it comes in its own request so the idea and its conversation appear without waiting.
    """
    idea = services.get_idea(idea_id, viewer=current_user)
    return render_template(
        "ideas/_similar_to.html",
        idea=idea,
        similar=services.similar_ideas(idea.title, exclude_id=idea.id),
    )


@bp.route("/ideas/<int:idea_id>/edit", methods=["GET", "POST"])
@login_required
def edit(idea_id: int):
    idea = services.get_idea(idea_id, viewer=current_user)
    if not services.can_edit(current_user, idea):
        abort(403)
    form = IdeaEditForm(obj=idea if request.method == "GET" else None)
    _choices(form, with_challenges=False)
    if request.method == "GET":
        form.tags.data = ", ".join(tag.name for tag in idea.tags)
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            services.edit_idea(
                idea,
                editor=current_user,
                title=form.title.data,
                body=form.body.data,
                category_id=form.category_id.data,
                tags=form.tags.data,
            )
        except DomainError as error:
            status = _show_errors(form, error)
        else:
            flash(_("Saved. The previous version is kept in the history."), "success")
            return redirect(url_for("ideas.detail", idea_id=idea.id))
    return render_template("ideas/edit.html", form=form, idea=idea), status


@bp.get("/ideas/<int:idea_id>/history")
def history(idea_id: int):
    idea = services.get_idea(idea_id, viewer=current_user)
    return render_template("ideas/history.html", idea=idea, revisions=services.revisions(idea))


def _back_to(idea_id: int) -> str:
    return safe_next(url_for("ideas.detail", idea_id=idea_id))


@bp.post("/ideas/<int:idea_id>/<any(vote, unvote):action>")
@login_required
def vote(idea_id: int, action: str):
    """Support or withdraw; htmx swaps the button in place, without JavaScript it redirects.
    The service answers with the idea as the vote left it: nothing is read before."""
    error = None
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        if action == "vote":
            support = services.cast_vote(idea_id, voter=current_user)
        else:
            support = services.withdraw_vote(idea_id, voter=current_user)
    except NotFound:
        raise
    except DomainError as exc:
        db.session.rollback()
        error = exc
    if request.headers.get("HX-Request"):
        if error:  # the button as it stands, with why it did not move
            idea = services.get_idea(idea_id, viewer=current_user)
            supported = services.supported_ids(current_user, [idea.id])
        else:  # the service just said so
            idea = support.idea
            supported = {idea.id} if support.voted else set()
        return render_template(
            "ideas/_vote_button.html",
            idea=idea,
            supported=supported,
            action_form=ActionForm(),
            error=error,
        ), (error.status if error else 200)
    if error:
        flash(error.message, "warning")
    return redirect(_back_to(idea_id))  # not idea.id: the commit expired it, reading reloads


@bp.post("/ideas/<int:idea_id>/status")
@permission_required(lambda user: can_moderate(user) or is_product_team(user))
def change_status(idea_id: int):
    idea = services.get_idea(idea_id, viewer=current_user)
    form = StatusForm()
    if form.validate_on_submit():
        try:
            services.change_status(
                idea,
                actor=current_user,
                to=form.status.data,
                note=form.note.data,
                official_response=form.official_response.data,
            )
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            flash(
                _("The idea is now %(status)s.", status=STATUS_LABELS[idea.status].lower()),
                "success",
            )
    return redirect(url_for("ideas.detail", idea_id=idea_id))


@bp.post("/ideas/<int:idea_id>/merge")
@permission_required(can_moderate)
def merge(idea_id: int):
    idea = services.get_idea(idea_id, viewer=current_user)
    form = MergeForm()
    if form.validate_on_submit():
        target = db.session.get(Idea, form.into.data)
        try:
            if target is None:
                raise DomainError(_("There is no idea number %(n)d.", n=form.into.data))
            services.merge_ideas(idea, into=target, actor=current_user)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            flash(_("Merged into “%(title)s”.", title=target.title), "success")
    else:
        flash(_("Give the number of the idea to merge into."), "danger")
    return redirect(url_for("ideas.detail", idea_id=idea_id))


@bp.get("/media/<path:path>")
def media(path: str):
    """Uploaded images, served from outside the code tree with their real type."""
    return send_from_directory(
        current_app.config["MEDIA_ROOT"], path, mimetype="image/webp", max_age=31_536_000
    )


# --- challenges -----------------------------------------------------------------------------


@bp.get("/challenges")
def challenges():
    now = utcnow()
    return render_template("ideas/challenges.html", challenges=services.list_challenges(), now=now)


@bp.get("/challenges/<int:challenge_id>")
def challenge(challenge_id: int):
    item = db.get_or_404(Challenge, challenge_id)
    page = services.list_ideas(
        viewer=current_user,
        challenge=item.id,
        sort=request.args.get("sort") if request.args.get("sort") in services.SORTS else "top",
        page=request.args.get("page", 1, type=int),
    )
    return render_template(
        "ideas/challenge.html",
        challenge=item,
        phase=item.phase(utcnow()),
        page=page,
        action_form=LazyActionForm(),
    )


@bp.route("/challenges/new", methods=["GET", "POST"])
@permission_required(is_product_team)
def new_challenge():
    form = ChallengeForm()
    form.category_id.choices = [(None, _("No category"))] + [
        (c.id, c.name) for c in services.list_categories()
    ]
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        cover = form.cover.data if getattr(form.cover.data, "filename", "") else None
        try:
            item = services.create_challenge(
                current_user,
                title=form.title.data,
                brief=form.brief.data,
                opens_at=form.opens_at.data.replace(tzinfo=UTC),
                closes_at=form.closes_at.data.replace(tzinfo=UTC),
                category_id=form.category_id.data,
                bonus_points=form.bonus_points.data,
                cover_upload=cover,
            )
        except DomainError as error:
            status = _show_errors(form, error)
        else:
            flash(_("The challenge is published."), "success")
            return redirect(url_for("ideas.challenge", challenge_id=item.id))
    return render_template("ideas/challenge_new.html", form=form), status


# --- categories -----------------------------------------------------------------------------


@bp.route("/admin/categories", methods=["GET", "POST"])
@permission_required(can_manage_categories)
def categories():
    form = CategoryForm()
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            services.create_category(
                current_user, name=form.name.data, description=form.description.data
            )
        except DomainError as error:
            status = _show_errors(form, error)
        else:
            flash(_("Category added."), "success")
            return redirect(url_for("ideas.categories"))
    return render_template(
        "ideas/admin_categories.html",
        form=form,
        categories=services.list_categories(),
        action_form=ActionForm(),
    ), status


@bp.post("/admin/categories/<int:category_id>/delete")
@permission_required(can_manage_categories)
def delete_category(category_id: int):
    category = db.get_or_404(Category, category_id)
    if ActionForm().validate_on_submit():
        try:
            services.delete_category(category, actor=current_user)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            flash(_("Category deleted."), "success")
    return redirect(url_for("ideas.categories"))
