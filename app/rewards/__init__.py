"""Rewards: the points ledger, earning rules, the catalog and redemption."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.rewards import cli, subscribers

    subscribers.connect()
    app.cli.add_command(cli.rewards)
