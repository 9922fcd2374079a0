"""Accounts: registration, sign-in, passwords, e-mail verification, roles and API tokens."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.extensions import login_manager


def init_app(app: Flask) -> None:
    from app import abilities
    from app.accounts import cli, permissions, routes, services

    # Staff are trusted with every ability; other sources (levels) are registered elsewhere.
    abilities.register_source(lambda user, ability: permissions.is_staff(user))
    # The people page and profiles offer suspend and lift only where the service would allow it.
    app.add_template_global(permissions.can_suspend)
    app.add_template_global(permissions.can_suspend_people)  # the people page's own rule
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in to see that page.")
    login_manager.login_message_category = "info"
    login_manager.user_loader(services.load_user_from_session)
    app.register_blueprint(routes.bp)
    app.cli.add_command(cli.users)
