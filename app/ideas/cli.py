from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.database import write_transaction
from app.ideas import services


@click.group(help="Maintain ideas and challenges.")
def ideas() -> None:
    pass


@ideas.command("rescore")
@with_appcontext
def rescore() -> None:
    """Recount each idea's supporters of the last seven days and refresh hot scores.

    Run it periodically (say hourly, from cron): a vote updates both at once, but support
    older than seven days only leaves "trending" when this runs.
    """
    with write_transaction():
        touched = services.rescore_ideas()
    click.echo(f"Rescored {touched} ideas.")


@ideas.command("close-challenges")
@with_appcontext
def close_challenges() -> None:
    """Close challenges whose time is up: pick each winner and announce it (run from cron)."""
    with write_transaction():
        closed = services.close_due_challenges()
    for challenge in closed:
        click.echo(f"Closed “{challenge.title}” (winner: idea {challenge.winner_idea_id}).")
    if not closed:
        click.echo("No challenge is due to close.")
