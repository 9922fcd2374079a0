"""Community pages and the partials other pages show through panels.

Every form here works as a plain POST (it redirects back to the page, to ``#comment-<id>``) and
through htmx (it answers with the piece of page to swap). Panels on pages this package does not
own get their data from the template globals at the end of the module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.accounts.forms import ActionForm
from app.accounts.models import User
from app.accounts.permissions import can_moderate, is_staff, signed_in
from app.community import services
from app.community.forms import CommentForm, EditCommentForm, PublicProfileForm
from app.community.live import MAX_ID
from app.community.models import FOLLOW_KINDS, FREQUENCIES, REACTIONS, Comment
from app.errors import DomainError, NotFound
from app.extensions import db
from app.i18n import ago
from app.ideas import services as ideas
from app.ideas.models import Challenge, Idea
from app.web import safe_next, show_form_errors

bp = Blueprint("community", __name__, template_folder="templates")

REACTION_LABELS = {
    "👍": _l("Thumbs up"),
    "❤️": _l("Love it"),
    "🎉": _l("Hooray"),
    "💡": _l("Insightful"),
}
FEED_TABS = ("everything", "following")


def _htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


# --- the conversation: what its templates are given -----------------------------------------


@dataclass
class Conversation:
    """A thread ready to render, plus the state of its forms after a failed post.

    ``errors`` and ``drafts`` are keyed by form: "new", "reply-<id>" or "edit-<id>". ``focus``
    names the element htmx moves focus to after the swap. ``notice`` is an error that belongs to
    no form (the comment answered was removed meanwhile, say).
    """

    kind: str
    target_id: int
    thread: services.Thread | None
    avatars: dict[int, str]
    following: bool = False
    errors: dict[str, list[str]] = field(default_factory=dict)
    drafts: dict[str, str] = field(default_factory=dict)
    focus: str | None = None
    notice: str | None = None
    live_idea_id: int | None = None

    @property
    def post_url(self) -> str:
        return _post_url(self.kind, self.target_id)


def _post_url(kind: str, target_id: int) -> str:
    if kind == "idea":
        return url_for("community.comment_on_idea", idea_id=target_id)
    return url_for("community.comment_on_challenge", challenge_id=target_id)


def _id(value) -> int | None:
    """An id from a form or a query string (typed by hand at times), or None."""
    text = str(value) if value is not None else ""
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID else None


def conversation(
    *,
    idea: Idea | None = None,
    challenge: Challenge | None = None,
    around: int | str | None = None,
    **state,
) -> Conversation:
    """The conversation on an idea or a challenge: one query whatever its size (two for a long
    one on an idea, shown by its ends; ``around``: a comment whose branch is shown too)."""
    kind, target = ("idea", idea) if idea is not None else ("challenge", challenge)
    thread = services.thread(
        viewer=current_user,
        idea=idea,
        challenge=challenge,
        window=services.THREAD_WINDOW,
        around=_id(around),
    )
    return _conversation_of(kind, target.id, thread, idea, **state)


def _conversation_of(
    kind: str, target_id: int, thread: services.Thread, idea: Idea | None, **state
) -> Conversation:
    return Conversation(
        kind=kind,
        target_id=target_id,
        thread=thread,
        avatars=thread.avatars,
        following=thread.following,
        live_idea_id=idea.id if idea is not None else None,
        **state,
    )


def _single(comment: Comment, **state) -> tuple[services.ThreadNode, Conversation]:
    """One comment on its own (its replies are not loaded): for live updates and swaps."""
    node = services.ThreadNode(
        comment,
        reactions=services.reaction_counts([comment.id])[comment.id],
        mine=services.reactions_by(current_user, [comment.id])[comment.id],
    )
    kind, target_id = _target_of(comment)
    conv = Conversation(
        kind=kind,
        target_id=target_id,
        thread=None,
        avatars=services.avatar_paths([comment.author_id]),
        **state,
    )
    return node, conv


def _target_of(comment: Comment) -> tuple[str, int]:
    if comment.idea_id is not None:
        return "idea", comment.idea_id
    return "challenge", comment.challenge_id


def _page_url(kind: str, target_id: int, anchor: str | None = None, **args) -> str:
    if kind == "idea":
        return url_for("ideas.detail", idea_id=target_id, **args, _anchor=anchor)
    return url_for("ideas.challenge", challenge_id=target_id, _anchor=anchor)


def _comment_url(kind: str, target_id: int, comment_id: int) -> str:
    """The page at one comment: on an idea, ?comment= shows its branch even in a long
    conversation (it may lie in a gap)."""
    return _page_url(kind, target_id, f"comment-{comment_id}", comment=comment_id)


def _conversation_for(kind: str, target_id: int, **state) -> Conversation:
    if kind == "idea":
        return conversation(idea=db.session.get(Idea, target_id), **state)
    return conversation(challenge=db.session.get(Challenge, target_id), **state)


def _render_conversation(conv: Conversation, status: int = 200):
    """The whole thread for htmx; the headers make it replace #conversation whichever element
    sent the request (removing the official answer from its own Delete button, say)."""
    headers = {"HX-Retarget": "#conversation", "HX-Reswap": "outerHTML"}
    return render_template("community/_thread.html", conv=conv), status, headers


def _refuse_plain(error: DomainError) -> None:
    """Without htmx, a conflict (the comment was removed meanwhile, say) returns to the page
    with a message; anything else (not allowed, not found) is the error page with its status."""
    if error.status != 409:
        raise error
    flash(error.message, "warning")


def _first_error(form) -> str:
    for errors in form.errors.values():
        if errors:
            return errors[0]
    return _("Something in the form is not valid.")


# --- comments -------------------------------------------------------------------------------


@bp.post("/ideas/<int:idea_id>/comments")
@login_required
def comment_on_idea(idea_id: int):
    # The service reads the idea back from the UPDATE counting the comment (404 if unseen); a
    # form with errors shows the conversation, which reads it.
    return _post_comment("idea", idea_id, idea_id=idea_id)


@bp.post("/challenges/<int:challenge_id>/comments")
@login_required
def comment_on_challenge(challenge_id: int):
    challenge = db.get_or_404(Challenge, challenge_id)
    return _post_comment("challenge", challenge.id, challenge=challenge)


def _post_comment(kind: str, target_id: int, **target):
    form = CommentForm()
    parent = None
    if form.parent_id.raw_data and form.parent_id.raw_data[0]:
        parent_id = request.form.get("parent_id", type=int)
        parent = db.session.get(Comment, parent_id) if _id(parent_id) else None
        if parent is None or _target_of(parent) != (kind, target_id):
            abort(404)
    key = f"reply-{parent.id}" if parent else "new"
    error: DomainError | None = None
    if form.validate_on_submit():
        try:
            comment = services.post_comment(
                current_user, body=form.body.data, parent=parent, **({} if parent else target)
            )
        except NotFound:
            raise
        except DomainError as exc:
            db.session.rollback()
            error = exc
        else:
            comment_id = comment.id  # kept loaded by the commit (services.post_comment)
            if _htmx():
                conv = _conversation_for(
                    kind, target_id, around=comment_id, focus=f"comment-{comment_id}-main"
                )
                return _render_conversation(conv)
            return redirect(_comment_url(kind, target_id, comment_id))
    if kind == "idea":  # nothing was written: an idea the person cannot see is a 404 first
        ideas.get_idea(target_id, viewer=current_user)
    message = error.message if error else _first_error(form)
    status = error.status if error else 422
    field_errors = (error.fields.get("body") if error else form.body.errors) or [message]
    if _htmx():
        state: dict = {"drafts": {key: form.body.data or ""}}
        if status == 422:
            state["errors"] = {key: list(field_errors)}
            state["focus"] = "comment-body-new" if key == "new" else f"reply-body-{parent.id}"
        else:
            state["notice"] = message
        around = parent.id if parent else None
        return _render_conversation(
            _conversation_for(kind, target_id, around=around, **state), status
        )
    back = (
        _comment_url(kind, target_id, parent.id)
        if parent
        else _page_url(kind, target_id, "comments")
    )
    if status == 422:
        return render_template(
            "community/comment_form.html",
            mode="reply" if parent else "new",
            action=_post_url(kind, target_id),
            back=back,
            title=_target_title(kind, target_id),
            parent=parent,
            body=form.body.data or "",
            errors=list(field_errors),
        ), 422
    _refuse_plain(error)
    return redirect(back)


def _target_title(kind: str, target_id: int) -> str:
    model = Idea if kind == "idea" else Challenge
    item = db.session.get(model, target_id)
    return item.title if item else ""


@bp.get("/comments/<int:comment_id>")
def comment(comment_id: int):
    """One comment as the thread shows it; the live client appends this to the page."""
    item = services.get_comment(comment_id, viewer=current_user)
    node, conv = _single(item)
    return render_template("community/_comment.html", node=node, conv=conv)


@bp.get("/ideas/<int:idea_id>/comments/more")
def more_comments(idea_id: int):
    """The next branches of a long conversation, in place of its "Show more comments" button
    (htmx); without htmx, the page opened at the first of them."""
    idea = ideas.get_idea(idea_id, viewer=current_user)
    after = request.args.get("after", type=int)
    before = request.args.get("before", type=int)
    if _id(after) is None or (before is not None and _id(before) is None):
        abort(400)
    more = services.more_of_thread(viewer=current_user, idea=idea, after=after, before=before)
    if not _htmx():
        if not more.roots:
            return redirect(_page_url("idea", idea.id, "comments"))
        return redirect(_comment_url("idea", idea.id, more.roots[0].comment.id))
    conv = _conversation_of("idea", idea.id, more, idea)
    return render_template("community/_thread_more.html", conv=conv)


def _comment_main(comment_id: int, status: int = 200, **state):
    """The answer to an htmx change of one comment: its body, swapped in place."""
    db.session.expire_all()
    item = services.get_comment(comment_id, viewer=current_user)
    node, conv = _single(item, focus=f"comment-{item.id}-main", **state)
    return render_template("community/_comment_main.html", node=node, conv=conv), status


@bp.post("/comments/<int:comment_id>/edit")
@login_required
def edit_comment(comment_id: int):
    item = services.get_comment(comment_id, viewer=current_user)
    kind, target_id = _target_of(item)
    form = EditCommentForm()
    key = f"edit-{item.id}"
    error: DomainError | None = None
    if form.validate_on_submit():
        try:
            services.edit_comment(item, editor=current_user, body=form.body.data)
        except DomainError as exc:
            db.session.rollback()
            error = exc
        else:
            if _htmx():
                return _comment_main(comment_id)
            flash(_("Your comment is updated."), "success")
            return redirect(_comment_url(kind, target_id, comment_id))
    message = error.message if error else _first_error(form)
    status = error.status if error else 422
    field_errors = (error.fields.get("body") if error else form.body.errors) or [message]
    if _htmx():
        if status == 422:
            return _comment_main(
                comment_id,
                status,
                errors={key: list(field_errors)},
                drafts={key: form.body.data or ""},
                focus=f"edit-body-{comment_id}",
            )
        return _comment_main(comment_id, status, notice=message)
    if status == 422:
        return render_template(
            "community/comment_form.html",
            mode="edit",
            action=url_for("community.edit_comment", comment_id=comment_id),
            back=_comment_url(kind, target_id, comment_id),
            title=_target_title(kind, target_id),
            parent=None,
            body=form.body.data or "",
            errors=list(field_errors),
        ), 422
    _refuse_plain(error)
    return redirect(_comment_url(kind, target_id, comment_id))


def _simple_action(comment_id: int, action, done: str, *, focus: str | None = None):
    """Run ``action(comment)``; answer htmx with the comment, others with a redirect back to it.

    With ``focus`` (the action moves the pinned official answer) htmx gets the whole thread and
    focus goes to that element; so it does when an official answer is removed.
    """
    item = services.get_comment(comment_id, viewer=current_user)
    kind, target_id = _target_of(item)
    if not ActionForm().validate_on_submit():
        abort(400)
    if focus is None and item.is_official:
        focus = f"comment-{item.id}-main"
    error: DomainError | None = None
    try:
        action(item)
    except DomainError as exc:
        db.session.rollback()
        error = exc
    if _htmx():
        if focus:
            state = {"notice": error.message} if error else {"focus": focus}
            return _render_conversation(
                _conversation_for(kind, target_id, around=comment_id, **state),
                error.status if error else 200,
            )
        if error:
            return _comment_main(comment_id, error.status, notice=error.message)
        return _comment_main(comment_id)
    if error:
        _refuse_plain(error)
    else:
        flash(done, "success")
    return redirect(_comment_url(kind, target_id, comment_id))


@bp.post("/comments/<int:comment_id>/delete")
@login_required
def delete_comment(comment_id: int):
    return _simple_action(
        comment_id,
        lambda item: services.delete_comment(item, actor=current_user),
        _("The comment is removed."),
    )


@bp.post("/comments/<int:comment_id>/official")
@login_required
def mark_official(comment_id: int):
    return _simple_action(
        comment_id,
        lambda item: services.mark_official(item, actor=current_user),
        _("Pinned as the official answer."),
        focus="official-answer",
    )


@bp.post("/comments/<int:comment_id>/reactions/<emoji>")
@login_required
def react(comment_id: int, emoji: str):
    """Toggle a reaction. The form says which way (``on`` = 1 or 0), so a double click or a
    second tab cannot flip it back by accident; without ``on`` it toggles."""
    item = services.get_comment(comment_id, viewer=current_user)
    kind, target_id = _target_of(item)
    if not ActionForm().validate_on_submit():
        abort(400)
    wanted = request.form.get("on")
    if wanted in ("0", "1"):
        on = wanted == "1"
    else:
        on = emoji not in services.reactions_by(current_user, [item.id])[item.id]
    error: DomainError | None = None
    try:
        services.react(item, user=current_user, emoji=emoji, on=on)
    except DomainError as exc:
        db.session.rollback()
        error = exc
    if _htmx():
        db.session.expire_all()
        item = services.get_comment(comment_id, viewer=current_user)
        node, conv = _single(item)
        return render_template(
            "community/_reactions.html", node=node, conv=conv, reaction_error=error
        ), error.status if error else 200
    if error:
        _refuse_plain(error)
    return redirect(_comment_url(kind, target_id, comment_id))


# --- follows --------------------------------------------------------------------------------


@bp.post("/follows/<kind>/<int:target_id>")
@login_required
def follow(kind: str, target_id: int):
    """Follow or stop following; the form says which (``on`` = 1 or 0), else it toggles."""
    if kind not in FOLLOW_KINDS:
        abort(404)
    if kind == "idea":
        ideas.get_idea(target_id, viewer=current_user)  # nobody follows what they cannot see
    if not ActionForm().validate_on_submit():
        abort(400)
    wanted = request.form.get("on")
    on = (
        wanted == "1"
        if wanted in ("0", "1")
        else not services.is_following(current_user, kind, target_id)
    )
    error: DomainError | None = None
    try:
        services.follow(current_user, kind, target_id, on=on)
    except DomainError as exc:
        db.session.rollback()
        error = exc
    if _htmx():
        return render_template(
            "community/_follow_button.html",
            kind=kind,
            target_id=target_id,
            following=services.is_following(current_user, kind, target_id),
            error=error,
        ), error.status if error else 200
    if error:
        _refuse_plain(error)
    default = (
        url_for("community.person", user_id=target_id)
        if kind == "user"
        else _page_url(kind, target_id)
        if kind in ("idea", "challenge")
        else url_for("main.home")
    )
    return redirect(safe_next(default))


# --- people ---------------------------------------------------------------------------------


@bp.get("/people/suggest")
@login_required
def suggest_people():
    """Names for the @mention autocomplete: at most eight, for two letters or more."""
    people = services.suggest_people(request.args.get("q", ""), exclude_id=current_user.id)
    return jsonify([{"id": p.id, "display_name": p.display_name} for p in people])


@bp.get("/people/<int:user_id>")
def person(user_id: int):
    user = db.get_or_404(User, user_id)
    idea_list = services.ideas_by(user)
    return render_template(
        "community/person.html",
        person=user,
        profile=services.profile_of(user),
        person_is_staff=is_staff(user),
        ideas=idea_list,
        supported=ideas.supported_ids(current_user, [idea.id for idea in idea_list]),
        comments=services.comments_by(user),
        following=services.is_following(current_user, "user", user.id),
        action_form=ActionForm(),
    )


@bp.route("/account/public-profile", methods=["GET", "POST"])
@login_required
def public_profile():
    profile = services.profile_of(current_user)
    form = PublicProfileForm(data={"bio": profile.bio} if request.method == "GET" else None)
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        upload = form.avatar.data if getattr(form.avatar.data, "filename", "") else None
        try:
            services.update_profile(
                current_user,
                bio=form.bio.data or "",
                avatar_upload=upload,
                remove_avatar=form.remove_avatar.data,
            )
        except DomainError as error:
            db.session.rollback()
            status = show_form_errors(form, error)
        else:
            flash(_("Your public profile is saved."), "success")
            return redirect(url_for("community.public_profile"))
    return render_template(
        "community/public_profile.html",
        form=form,
        profile=services.profile_of(current_user),
    ), status


# --- notifications --------------------------------------------------------------------------


@bp.route("/account/notifications", methods=["GET", "POST"])
@login_required
def notification_settings():
    """What we may mail, and how often: consent first, then a frequency per kind."""
    status = 200
    if request.method == "POST" and ActionForm().validate_on_submit():
        chosen = {
            kind: request.form.get(f"frequency-{kind}", "") for kind in services.NOTIFICATION_KINDS
        }
        try:
            services.save_notification_settings(
                current_user,
                frequencies=chosen,
                email_consent=request.form.get("email_consent") == "y",
            )
        except DomainError as error:
            flash(error.message, "danger")
            status = error.status
        else:
            flash(_("Your notification settings are saved."), "success")
            return redirect(url_for("community.notification_settings"))
    return render_template(
        "community/notification_settings.html",
        preferences=services.preferences(current_user),
        consent=services.email_consent(current_user.id),
        frequencies=FREQUENCIES,
        action_form=ActionForm(),
    ), status


def _notification_groups(items):
    """``services.grouped``, with the notifications about no idea gathered into one group."""
    groups: list[tuple[Idea | None, list]] = []
    loose: list | None = None
    for idea, notes in services.grouped(items):
        if idea is not None:
            groups.append((idea, notes))
        elif loose is None:
            loose = list(notes)
            groups.append((None, loose))
        else:
            loose.extend(notes)
    return groups


def _notification_center(status: int = 200):
    items = services.notifications_for(current_user)
    g.cc_unread = services.unread_count(current_user)
    template = "community/_notifications.html" if _htmx() else "community/notifications.html"
    return render_template(
        template,
        groups=_notification_groups(items),
        avatars=services.avatar_paths({n.actor_id for n in items}),
        unread=g.cc_unread,
        action_form=ActionForm(),
        oob_count=_htmx(),
    ), status


@bp.get("/notifications")
@login_required
def notifications():
    return _notification_center()


@bp.post("/notifications/read")
@login_required
def mark_read():
    """Mark the notifications named by ``ids`` read, or all of them when none are named."""
    if not ActionForm().validate_on_submit():
        abort(400)
    raw = request.form.getlist("ids")
    ids = [int(v) for v in raw if v.isascii() and v.isdigit() and len(v) < 10] if raw else None
    services.mark_read(current_user, ids)
    if _htmx():
        return _notification_center()
    return redirect(safe_next(url_for("community.notifications")))


# --- activity feed --------------------------------------------------------------------------


def activity_feed(tab: str | None = None, *, limit: int = 30) -> dict:
    """The feed's tab (only signed-in people have "following"), items and actors' pictures."""
    tab = tab if tab in FEED_TABS and signed_in(current_user) else "everything"
    items, avatars = services.feed_with_avatars(
        viewer=current_user, following=tab == "following", limit=limit
    )
    return {"tab": tab, "items": items, "avatars": avatars}


@bp.get("/feed")
def feed():
    data = activity_feed(request.args.get("tab"))
    template = "community/_feed.html" if _htmx() else "community/feed.html"
    return render_template(template, feed_data=data)


# --- what the templates of every page may use -----------------------------------------------


def unread_notifications() -> int:
    """The signed-in person's unread count (a column of the user row, loaded with them)."""
    if "cc_unread" not in g:
        g.cc_unread = services.unread_count(current_user)
    return g.cc_unread


def _flatten(node: services.ThreadNode) -> list[tuple[services.ThreadNode, Comment]]:
    """Every reply under ``node`` in reading order, each with the comment it answers."""
    parents = {reply.comment.id: node.comment for reply in node.replies}
    flat = []
    for reply in services.in_thread_order(node.replies):
        flat.append((reply, parents[reply.comment.id]))
        parents.update({deeper.comment.id: reply.comment for deeper in reply.replies})
    return flat


def _initials(name: str) -> str:
    words = [word for word in (name or "").split() if word[:1].isalnum()]
    if not words:
        return (name or "?")[:1].upper()
    return (words[0][:1] + (words[1][:1] if len(words) > 1 else "")).upper()


@bp.app_context_processor
def _community_context() -> dict:
    return {
        "conversation": conversation,
        "activity_feed": activity_feed,
        "unread_notifications": unread_notifications,
        "comment_reactions": REACTION_LABELS,
        "reaction_order": REACTIONS,
        "can_moderate_comments": can_moderate,
    }


@bp.app_template_global()
def comment_key(node: services.ThreadNode, replying_to: Comment | None = None) -> str:
    """Everything a comment shows to people signed out (who, when, edited or removed, the
    reactions, what it answers): the key it is kept rendered under, so any change makes a new
    entry. The text changes only with an edit."""
    c = node.comment
    return repr(
        (
            c.id,
            c.edited_at,
            c.deleted_at,
            c.is_official,
            c.by_staff,
            c.author_id,
            c.author.display_name,
            sorted(node.reactions.items()),
            None
            if replying_to is None
            else (replying_to.id, replying_to.author.display_name, replying_to.is_deleted),
            ago(c.created_at),
        )
    )


bp.add_app_template_filter(_flatten, "thread_flatten")
bp.add_app_template_filter(_initials, "initials")
