from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.community import services
from app.database import write_transaction


@click.group(help="Community chores.")
def community() -> None:
    pass


@community.command("send-digests")
@with_appcontext
def send_digests() -> None:
    """Mail each person who asked for it one digest of their waiting notifications."""
    with write_transaction():
        sent = services.send_digests()
    click.echo(f"Sent {sent} digest{'s' if sent != 1 else ''}.")
