"""Community: threaded conversation, follows, notifications and live updates."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.community import cli, live, routes, subscribers
    from app.web import register_panel

    app.register_blueprint(routes.bp)
    register_panel(app, "idea", "community/_idea_panel.html")
    register_panel(app, "challenge", "community/_challenge_panel.html")
    register_panel(app, "home", "community/_feed.html")
    register_panel(app, "nav", "community/_nav_bell.html")
    subscribers.connect()
    live.init_app()
    app.cli.add_command(cli.community)
