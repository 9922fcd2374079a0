"""Live updates over Socket.IO.

Rooms: ``idea:<id>`` (viewers of an idea page), ``ideas`` (viewers of lists) and
``user:<id>`` (one person's private events). Every handler checks permission itself, as a
route would. Emits go out after the database commit, so nobody sees what did not happen;
with SOCKETIO_MESSAGE_QUEUE set they reach clients of every process.

Events sent to clients: ``vote_count`` ``{idea_id, vote_count}``, ``status`` ``{idea_id,
status, label}``, ``comment`` ``{idea_id, comment_id, parent_id}``, ``notification`` ``{id,
text, url, unread, html}`` and ``session_changed`` ``{}`` (the person signed out or changed
their password somewhere: reconnect, so the private room is joined again only with a session
that is still valid).
"""

from __future__ import annotations

import re

from flask import current_app
from flask_login import current_user, user_logged_out
from flask_socketio import join_room, leave_room, rooms
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.accounts.events import password_changed, user_suspended
from app.community import events as community
from app.database import on_commit
from app.extensions import db, socketio
from app.ideas import events as ideas

IDEA_ROOM = re.compile(r"idea:([1-9][0-9]{0,9})")
MAX_ID = 2**31 - 1
# A page joins one or two rooms; a client asking for hundreds is not a page.
MAX_ROOMS = 20
_PENDING_NOTIFICATIONS = "live_notifications"
_COUNT_CHUNK = 500


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def idea_room(idea_id: int) -> str:
    return f"idea:{idea_id}"


def _emit(event_name: str, payload: dict, room: str) -> None:
    """Broadcast now. The data is committed already, so a broken queue must not fail the
    request (or stop the other after-commit work, such as mail): it is logged instead."""
    try:
        socketio.emit(event_name, payload, to=room)
    except Exception:
        current_app.logger.exception("Could not broadcast %s to %s", event_name, room)


def _emit_after_commit(
    event_name: str, payload: dict, room: str, *, session: Session | None = None
) -> None:
    on_commit(session or db.session, lambda: _emit(event_name, payload, room))


# --- handlers -------------------------------------------------------------------------------


def _on_connect(auth=None):
    # A suspended person still reads pages, but private events stop (see _suspended).
    if current_user.is_authenticated and not current_user.is_suspended:
        join_room(user_room(current_user.id))
    return True


def _requested_room(data) -> str:
    if isinstance(data, dict):
        data = data.get("room")
    return data if isinstance(data, str) else ""


def _on_join(data):
    """Join a public room: ``{"room": "ideas"}`` or ``{"room": "idea:<id>"}``."""
    from app.ideas.models import Idea
    from app.ideas.services import can_see

    room = _requested_room(data)
    if room in rooms():
        return {"ok": True}
    if len(rooms()) > MAX_ROOMS:
        return {"ok": False, "error": "too_many_rooms"}
    if room == "ideas":
        join_room(room)
        return {"ok": True}
    match = IDEA_ROOM.fullmatch(room)
    if match and int(match.group(1)) <= MAX_ID:
        idea = db.session.get(Idea, int(match.group(1)))
        if idea is not None and can_see(current_user, idea):
            join_room(room)
            return {"ok": True}
    # Private rooms (user:<id>) are joined on connect only, and only by their owner.
    return {"ok": False, "error": "forbidden"}


def _on_leave(data):
    room = _requested_room(data)
    if room == "ideas" or IDEA_ROOM.fullmatch(room):
        leave_room(room)
    return {"ok": True}


# --- what is broadcast ----------------------------------------------------------------------


def _support_changed(idea, *, vote_count, **extra) -> None:
    payload = {"idea_id": idea.id, "vote_count": vote_count}
    _emit_after_commit("vote_count", payload, idea_room(idea.id))
    _emit_after_commit("vote_count", payload, "ideas")


def _merged(source, *, target, **extra) -> None:
    """Support moved from one idea to the other without a vote being cast."""
    for idea in (source, target):
        _support_changed(idea, vote_count=idea.vote_count)


def _status_changed(idea, *, change, **extra) -> None:
    from app.ideas.workflow import STATUS_LABELS

    payload = {
        "idea_id": idea.id,
        "status": change.to_status,
        "label": str(STATUS_LABELS[change.to_status]),
    }
    _emit_after_commit("status", payload, idea_room(idea.id))
    _emit_after_commit("status", payload, "ideas")


def _comment_posted(comment, *, comment_count, **extra) -> None:
    if comment.idea_id is None:
        return
    from flask_babel import ngettext

    count = comment_count  # the stored count, this comment included (moved in SQL)
    _emit_after_commit(
        "comment",
        {
            "idea_id": comment.idea_id,
            "comment_id": comment.id,
            "parent_id": comment.parent_id,
            "count_text": ngettext("%(num)d comment", "%(num)d comments", count),
        },
        idea_room(comment.idea_id),
    )


def _notification_created(notification, **extra) -> None:
    # Collected, and announced together just before the commit (see _announce_notifications):
    # one query for everyone's unread count, however many people an event notifies.
    db.session.info.setdefault(_PENDING_NOTIFICATIONS, []).append(
        {
            "id": notification.id,
            "recipient_id": notification.recipient_id,
            "text": notification.text,
            "url": notification.url,
        }
    )


def _unread_counts(session: Session, recipient_ids: list[int]) -> dict[int, int]:
    from app.community.models import Notification

    counts: dict[int, int] = {}
    for start in range(0, len(recipient_ids), _COUNT_CHUNK):
        chunk = recipient_ids[start : start + _COUNT_CHUNK]
        counts.update(
            session.execute(
                select(Notification.recipient_id, func.count())
                .where(Notification.recipient_id.in_(chunk), Notification.read_at.is_(None))
                .group_by(Notification.recipient_id)
            ).all()
        )
    return counts


def _announce_notifications(session: Session) -> None:
    """Before commit: SQL still runs here, and after it nothing may be queried."""
    if session.in_nested_transaction() or not session.info.get(_PENDING_NOTIFICATIONS):
        return
    pending = session.info.pop(_PENDING_NOTIFICATIONS)
    session.flush()
    unread = _unread_counts(session, sorted({item["recipient_id"] for item in pending}))
    # The bare template, without the page context processors: they would put a CSRF token
    # (and so a session cookie) into the answer of whoever caused the notification.
    toast = current_app.jinja_env.get_template("community/_notification_toast.html")
    for item in pending:
        recipient_id = item.pop("recipient_id")
        payload = {**item, "unread": unread.get(recipient_id, 0)}
        payload["html"] = toast.render(n=payload)
        _emit_after_commit("notification", payload, user_room(recipient_id), session=session)


def _forget_notifications(session: Session, transaction) -> None:
    if transaction.parent is None:  # rolled back, closed, or announced already
        session.info.pop(_PENDING_NOTIFICATIONS, None)


def _close_private_room(user_id: int) -> None:
    # Every socket in the room is told to reconnect, then removed: the ones whose session is
    # still valid (the person's other devices) join again on connect, the others do not.
    room = user_room(user_id)
    _emit("session_changed", {}, room)
    try:
        socketio.close_room(room)
    except Exception:
        current_app.logger.exception("Could not close %s", room)


def _signed_out(sender, user=None, **extra) -> None:
    """Signed out: private events stop at once, for every socket of that person."""
    if user is not None and getattr(user, "id", None):
        _close_private_room(user.id)


def _password_changed(user, **extra) -> None:
    """Every other session ended; once that is committed, their sockets leave the room."""
    user_id = user.id
    on_commit(db.session, lambda: _close_private_room(user_id))


def _suspended(user, **extra) -> None:
    """Suspended: once committed, their sockets leave the private room, and do not join it
    again while the suspension lasts."""
    user_id = user.id
    on_commit(db.session, lambda: _close_private_room(user_id))


_session_hooks_installed = False


def _install_session_hooks() -> None:
    global _session_hooks_installed
    if not _session_hooks_installed:  # once per process, whatever the number of apps
        event.listen(Session, "before_commit", _announce_notifications)
        event.listen(Session, "after_transaction_end", _forget_notifications)
        _session_hooks_installed = True


def init_app() -> None:
    socketio.on_event("connect", _on_connect)
    socketio.on_event("join", _on_join)
    socketio.on_event("leave", _on_leave)
    ideas.vote_cast.connect(_support_changed)
    ideas.vote_withdrawn.connect(_support_changed)
    ideas.idea_merged.connect(_merged)
    ideas.idea_status_changed.connect(_status_changed)
    community.comment_posted.connect(_comment_posted)
    community.notification_created.connect(_notification_created)
    user_logged_out.connect(_signed_out)
    password_changed.connect(_password_changed)
    user_suspended.connect(_suspended)
    _install_session_hooks()
