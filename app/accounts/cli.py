from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.accounts import services
from app.accounts.models import ROLES
from app.database import write_transaction
from app.errors import DomainError


@click.group(help="Manage people's accounts.")
def users() -> None:
    pass


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True, help="At least 10 characters.")
@click.option("--role", type=click.Choice(ROLES), default="customer", show_default=True)
@click.option("--name", "display_name", default=None, help="Display name.")
@with_appcontext
def create(email: str, password: str, role: str, display_name: str | None) -> None:
    """Create an account, or set the role of the existing account with this email."""
    try:
        with write_transaction():
            existed = services.get_user_by_email(email) is not None
            user = services.ensure_user(
                email=email, password=password, role=role, display_name=display_name
            )
    except DomainError as error:
        raise click.ClickException(error.message) from error
    verb = "Updated" if existed else "Created"
    click.echo(f"{verb} {user.email} ({user.display_name}) with role {role}.")
