"""Ideas: challenges, submission, voting, the status workflow and discovery."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.ideas import cli, routes

    app.register_blueprint(routes.bp)
    app.cli.add_command(cli.ideas)
