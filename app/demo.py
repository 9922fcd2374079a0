"""``flask seed-demo``: a small, realistic community to explore on a fresh install."""

from __future__ import annotations

import time

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import func, select

from app.accounts import services as accounts
from app.accounts.models import User
from app.community.demo import seed_comments
from app.database import write_transaction
from app.extensions import db
from app.ideas.demo import seed_ideas, seed_scale
from app.rewards.demo import seed_rewards

DEMO_PASSWORD = "cocreate-demo"

# (email, display name, role)
DEMO_PEOPLE = [
    ("admin@example.com", "Amira Haddad", "admin"),
    ("moderator@example.com", "Mateo Rossi", "moderator"),
    ("product@example.com", "Priya Natarajan", "product"),
    ("lena@example.com", "Lena Fischer", "customer"),
    ("kenji@example.com", "Kenji Watanabe", "customer"),
    ("sofia@example.com", "Sofía Márquez", "customer"),
    ("noah@example.com", "Noah Okafor", "customer"),
    ("chloe@example.com", "Chloé Martin", "customer"),
    ("arash@example.com", "Arash Karimi", "customer"),
    ("mei@example.com", "Mei Lin", "customer"),
]


def seed_people() -> list[User]:
    return [
        accounts.ensure_user(email=email, password=DEMO_PASSWORD, role=role, display_name=name)
        for email, name, role in DEMO_PEOPLE
    ]


def demo_logins() -> str:
    lines = [f"Demo logins (password for all: {DEMO_PASSWORD}):"]
    lines += [f"  {role:<10} {email}" for email, _name, role in DEMO_PEOPLE[:4]]
    lines.append(f"  …and {len(DEMO_PEOPLE) - 4} more customers (see README).")
    return "\n".join(lines)


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Seed even when the database already has people.")
@click.option(
    "--ideas",
    "scale_ideas",
    type=click.IntRange(0),
    default=0,
    help="Also bulk-insert this many ideas (benchmark data).",
)
@click.option(
    "--votes",
    "scale_votes",
    type=click.IntRange(0),
    default=0,
    help="…and this many votes spread over them.",
)
@click.option(
    "--people",
    "scale_people",
    type=click.IntRange(0),
    default=None,
    help="…by this many generated customers (default: enough for the votes).",
)
@click.option(
    "--comments",
    "scale_comments",
    type=click.IntRange(0),
    default=0,
    help="Also bulk-insert this many comments on the ideas, by customers (benchmark data).",
)
@with_appcontext
def seed_demo(
    force: bool,
    scale_ideas: int,
    scale_votes: int,
    scale_people: int | None,
    scale_comments: int,
) -> None:
    """Fill an empty database with a demo community (skipped when people exist)."""
    started = time.monotonic()
    with write_transaction():
        people = db.session.scalar(select(func.count()).select_from(User))
        if people and not force:
            click.echo(f"The database already has {people} people; not seeding (use --force).")
            click.echo(demo_logins())
            return
        people = seed_people()
        seed_ideas(people)
        seed_rewards({person.email: person for person in people})
    click.echo("Seeded the demo community.")
    if scale_ideas:
        if scale_people is None:
            scale_people = max(200, min(100_000, scale_votes // 10))
        with write_transaction():
            seed_scale(ideas=scale_ideas, votes=scale_votes, people=scale_people)
        click.echo(
            f"Added {scale_people} customers, {scale_ideas} ideas and about {scale_votes} "
            f"votes in {time.monotonic() - started:.0f} s."
        )
    if scale_comments:
        with write_transaction():
            added = seed_comments(comments=scale_comments)
        click.echo(f"Added {added} comments in {time.monotonic() - started:.0f} s in all.")
    click.echo(demo_logins())


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo)
