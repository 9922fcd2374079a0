"""Live updates over Socket.IO.

Rooms: ``idea:<id>`` (viewers of an idea page), ``ideas`` (viewers of lists) and
``user:<id>`` (one person's private events). Every handler checks permission itself, as a
route would. Emits go out after the database commit, so nobody sees what did not happen;
with SOCKETIO_MESSAGE_QUEUE set they reach clients of every process.
"""

from __future__ import annotations

from flask import render_template
from flask_login import current_user, user_logged_out
from flask_socketio import join_room, leave_room

from app.accounts.events import password_changed
from app.community import events as community
from app.database import on_commit
from app.extensions import db, socketio
from app.ideas import events as ideas


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def idea_room(idea_id: int) -> str:
    return f"idea:{idea_id}"


def _emit_after_commit(event: str, payload: dict, room: str) -> None:
    on_commit(db.session, lambda: socketio.emit(event, payload, to=room))


# --- handlers -------------------------------------------------------------------------------


def _on_connect(auth=None):
    if current_user.is_authenticated:
        join_room(user_room(current_user.id))
    return True


def _on_join(data):
    """Join a public room: ``{"room": "ideas"}`` or ``{"room": "idea:<id>"}``."""
    from app.ideas.models import Idea
    from app.ideas.services import can_see

    room = str((data or {}).get("room", ""))
    if room == "ideas":
        join_room(room)
        return {"ok": True}
    kind, _sep, raw_id = room.partition(":")
    if kind == "idea" and raw_id.isdigit():
        idea = db.session.get(Idea, int(raw_id))
        if idea is not None and can_see(current_user, idea):
            join_room(room)
            return {"ok": True}
    # Private rooms (user:<id>) are joined on connect only, and only by their owner.
    return {"ok": False, "error": "forbidden"}


def _on_leave(data):
    room = str((data or {}).get("room", ""))
    if room == "ideas" or room.startswith("idea:"):
        leave_room(room)
    return {"ok": True}


# --- what is broadcast ----------------------------------------------------------------------


def _support_changed(idea, *, vote_count, **extra) -> None:
    payload = {"idea_id": idea.id, "vote_count": vote_count}
    _emit_after_commit("vote_count", payload, idea_room(idea.id))
    _emit_after_commit("vote_count", payload, "ideas")


def _status_changed(idea, *, change, **extra) -> None:
    from app.ideas.workflow import STATUS_LABELS

    payload = {
        "idea_id": idea.id,
        "status": change.to_status,
        "label": str(STATUS_LABELS[change.to_status]),
    }
    _emit_after_commit("status", payload, idea_room(idea.id))
    _emit_after_commit("status", payload, "ideas")


def _comment_posted(comment, **extra) -> None:
    if comment.idea_id is not None:
        _emit_after_commit(
            "comment",
            {"idea_id": comment.idea_id, "comment_id": comment.id, "parent_id": comment.parent_id},
            idea_room(comment.idea_id),
        )


def _notification_created(notification, **extra) -> None:
    from app.accounts.models import User
    from app.community.services import unread_count

    # Worked out now, inside the transaction: after commit the session can run no SQL.
    payload = {
        "id": notification.id,
        "text": notification.text,
        "url": notification.url,
        "unread": unread_count(db.session.get(User, notification.recipient_id)),
    }
    payload["html"] = render_template("community/_notification_toast.html", n=payload)
    _emit_after_commit("notification", payload, user_room(notification.recipient_id))


def _close_private_room(sender, user=None, **extra) -> None:
    """Signed out, or every session ended: private events stop at once."""
    target = user if user is not None else sender
    if target is not None and getattr(target, "id", None):
        socketio.close_room(user_room(target.id))


def init_app() -> None:
    socketio.on_event("connect", _on_connect)
    socketio.on_event("join", _on_join)
    socketio.on_event("leave", _on_leave)
    ideas.vote_cast.connect(_support_changed)
    ideas.vote_withdrawn.connect(_support_changed)
    ideas.idea_status_changed.connect(_status_changed)
    community.comment_posted.connect(_comment_posted)
    community.notification_created.connect(_notification_created)
    user_logged_out.connect(_close_private_room)
    password_changed.connect(_close_private_room)
