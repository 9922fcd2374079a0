from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.rewards import services


@click.group(help="The points ledger.")
def rewards() -> None:
    pass


@rewards.command("verify")
@with_appcontext
def verify() -> None:
    """Prove every stored balance equals the sum of its ledger entries; exit 1 when not."""
    wrong = services.verify()
    for user_id, stored, total in wrong:
        click.echo(f"Person {user_id}: stored balance {stored}, ledger sum {total}")
    if wrong:
        raise SystemExit(1)
    click.echo("Every balance equals the sum of its ledger entries.")
