from __future__ import annotations

import smtplib
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import update

from app.database import on_commit, utcnow
from app.extensions import db
from app.mail.models import OutboxMessage


def queue_mail(*, to: str, subject: str, body: str, kind: str) -> OutboxMessage:
    """Add a message to the outbox; it is delivered (or logged) after the caller commits."""
    message = OutboxMessage(to_address=to, subject=subject, body_text=body, kind=kind)
    db.session.add(message)
    db.session.flush()
    app = current_app._get_current_object()
    message_id = message.id
    on_commit(db.session, lambda: _deliver(app, message_id, to, subject, body))
    return message


def _deliver(app, message_id: int, to: str, subject: str, body: str) -> None:
    config = app.config
    if not config.get("MAIL_SERVER"):
        app.logger.info("Mail kept in the outbox (no MAIL_SERVER) to %s: %s\n%s", to, subject, body)
        return
    email = EmailMessage()
    email["From"] = config["MAIL_DEFAULT_SENDER"]
    email["To"] = to
    email["Subject"] = subject
    email.set_content(body)
    status, error = "sent", None
    try:
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        status, error = "failed", str(exc)[:500]
        app.logger.warning("Mail to %s failed: %s", to, exc)
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(status=status, error=error, sent_at=utcnow() if status == "sent" else None)
        )
