from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.mail import services


@click.group(help="Outgoing mail.")
def mail() -> None:
    pass


@mail.command("send-pending")
@with_appcontext
def send_pending() -> None:
    """Send mail still waiting in the outbox (after an outage, or once SMTP is configured)."""
    if not current_app.config.get("MAIL_SERVER"):
        raise click.ClickException("MAIL_SERVER is not set: mail stays in the outbox.")
    ids = services.undelivered_ids()
    sent = services.deliver(current_app._get_current_object(), ids)
    click.echo(f"Sent {sent} of {len(ids)} waiting messages.")
