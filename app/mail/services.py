"""Queue mail in the outbox; deliver it after commit, all of a transaction over one connection."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import select, update

from app.database import on_commit, utcnow
from app.extensions import db
from app.mail.models import OutboxMessage

_PENDING = "cocreate_outbox_pending"


def queue_mail(*, to: str, subject: str, body: str, kind: str) -> OutboxMessage:
    """Add a message to the outbox; it is delivered (or logged) after the caller commits."""
    message = OutboxMessage(to_address=to, subject=subject, body_text=body, kind=kind)
    db.session.add(message)
    db.session.flush()
    pending = db.session.info.get(_PENDING)
    if pending is None:
        # One delivery per transaction, however many messages it queues.
        pending = db.session.info[_PENDING] = []
        app = current_app._get_current_object()
        session = db.session

        def deliver_queued() -> None:
            ids = session.info.pop(_PENDING, [])
            deliver(app, ids)

        on_commit(db.session, deliver_queued)
    pending.append(message.id)
    return message


def deliver(app, message_ids: list[int]) -> int:
    """Send these outbox messages over one SMTP connection; returns how many were sent.

    With no MAIL_SERVER the messages stay pending in the outbox and go to the log.
    """
    if not message_ids:
        return 0
    with app.app_context(), db.engine.connect() as conn:
        messages = conn.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.to_address,
                OutboxMessage.subject,
                OutboxMessage.body_text,
            ).where(OutboxMessage.id.in_(message_ids))
        ).all()
        conn.rollback()
    config = app.config
    if not config.get("MAIL_SERVER"):
        for message in messages:
            app.logger.info(
                "Mail kept in the outbox (no MAIL_SERVER) to %s: %s\n%s",
                message.to_address,
                message.subject,
                message.body_text,
            )
        return 0
    results: dict[int, tuple[str, str | None]] = {}
    try:
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            for message in messages:
                email = EmailMessage()
                email["From"] = config["MAIL_DEFAULT_SENDER"]
                email["To"] = message.to_address
                email["Subject"] = message.subject
                email.set_content(message.body_text)
                try:
                    smtp.send_message(email)
                    results[message.id] = ("sent", None)
                except smtplib.SMTPException as exc:  # this recipient only
                    results[message.id] = ("failed", str(exc)[:500])
    except (OSError, smtplib.SMTPException) as exc:  # the server: every message waits
        app.logger.warning("Mail server unavailable: %s", exc)
        for message in messages:
            results.setdefault(message.id, ("failed", str(exc)[:500]))
    now = utcnow()
    with app.app_context(), db.engine.begin() as conn:
        for message_id, (status, error) in results.items():
            conn.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(status=status, error=error, sent_at=now if status == "sent" else None)
            )
    return sum(1 for status, _error in results.values() if status == "sent")


def undelivered_ids(limit: int = 1000) -> list[int]:
    return list(
        db.session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.status.in_(("pending", "failed")))
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )


def recent_mail(limit: int = 100) -> list[OutboxMessage]:
    return list(
        db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit))
    )
