"""Bench mode: count the SQL statements each request runs, into an ``X-Query-Count`` header.

Off unless ``COUNT_QUERIES`` is set (``make bench`` sets it). Transaction control (BEGIN,
SAVEPOINT, RELEASE) and connection settings (PRAGMA) are not counted: they are not queries a
page "costs" (the suite's own ``count_queries`` fixture counts the same way). Statements run
after the response is finished (the API token's last-use bookkeeping, in a teardown) are not in
the header.
"""

from __future__ import annotations

from flask import Flask, g, has_request_context, request_finished, request_started
from sqlalchemy import event
from sqlalchemy.engine import Engine

HEADER = "X-Query-Count"
NOT_QUERIES = ("BEGIN", "SAVEPOINT", "RELEASE", "PRAGMA", "COMMIT", "ROLLBACK")
_G_KEY = "cc_query_count"
_listening = False


def _count_statement(conn, cursor, statement, parameters, context, executemany) -> None:
    if not has_request_context():
        return
    count = g.get(_G_KEY)
    if count is None or statement.lstrip()[:9].upper().startswith(NOT_QUERIES):
        return
    setattr(g, _G_KEY, count + 1)


def _start(sender: Flask, **extra) -> None:
    setattr(g, _G_KEY, 0)


def _finish(sender: Flask, response, **extra) -> None:
    count = g.get(_G_KEY)
    if count is not None:
        response.headers[HEADER] = str(count)


def init_app(app: Flask) -> None:
    """Count queries per request when ``app.config["COUNT_QUERIES"]``; otherwise do nothing."""
    global _listening
    if not app.config.get("COUNT_QUERIES"):
        return
    if not _listening:
        # On every engine: requests of an app that does not count never set the counter.
        event.listen(Engine, "before_cursor_execute", _count_statement)
        _listening = True
    # Signals: request_started comes before every before_request hook (which may query: the
    # API token, the signed-in user) and request_finished after every after_request hook.
    request_started.connect(_start, app, weak=False)
    request_finished.connect(_finish, app, weak=False)
