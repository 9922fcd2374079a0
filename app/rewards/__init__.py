"""Rewards: the points ledger, earning rules, the catalog and redemption."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from sqlalchemy.orm import joinedload

    from app import abilities
    from app.accounts import services as accounts
    from app.accounts.models import User
    from app.rewards import admin, cli, routes, services, subscribers

    subscribers.connect()
    abilities.register_source(services.grants_by_level)
    # The navigation shows the balance on every page: load it with the person, not after.
    accounts.load_with_session_user("rewards.balance", joinedload(User.balance_row))
    routes.init_app(app)  # the customer pages, their nav and profile panels
    admin.init_app(app)  # the staff pages and their items in the Admin menu
    app.cli.add_command(cli.rewards)
