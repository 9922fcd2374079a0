"""The migrations build the schema the models describe, on SQLite and on PostgreSQL.

``make test`` runs the suite once per database, so every test here covers both. The suite's own
database was built by the migrations (see ``reset_schema`` in conftest); the round trip runs on
a separate, fresh database on the same server.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"

# Runs in a separate process because the app binds its engine to DATABASE_URL at start: this is
# the same entry point (wsgi) and the same Flask-Migrate commands as `make run` uses.
ROUND_TRIP = """
import json
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect
from alembic.runtime.migration import MigrationContext
from wsgi import app
from app.extensions import db

def state():
    with db.engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        return {"tables": sorted(inspect(conn).get_table_names()), "revision": revision}

steps = {}
with app.app_context():
    upgrade()
    steps["upgrade"] = state()
    downgrade(revision="base")
    steps["downgrade"] = state()
    upgrade()
    steps["upgrade again"] = state()
print("ROUND-TRIP " + json.dumps(steps))
"""


# Points written before balances were kept by the ledger: each entry learns what it did to
# lifetime points, and entries written after move the balance.
LEDGER_BACKFILL = """
import json
from flask_migrate import upgrade
from sqlalchemy import text
from wsgi import app
from app.extensions import db
from tests.factories import make_member

entries = [  # key, amount, reason
    ("supporter:1:9", 1, "supporter"),
    ("comment:5", 2, "comment"),
    ("comment:5:reversed", -1, "comment"),  # one of its two points was spent
    ("redemption:1", -1, "redemption"),
    ("redemption:1:reversed", 1, "redemption"),
]
with app.app_context():
    upgrade(revision="5c2d7e9a4b10")
    person = make_member().id
    with db.engine.begin() as conn:
        for key, amount, reason in entries:
            conn.execute(
                text(
                    "INSERT INTO ledger_entries (user_id, amount, reason, idempotency_key, note,"
                    " created_at) VALUES (:person, :amount, :reason, :key, '', '2026-01-01')"
                ),
                {"person": person, "amount": amount, "reason": reason, "key": key},
            )
        conn.execute(
            text("INSERT INTO balances (user_id, balance, lifetime) VALUES (:person, 2, 1)"),
            {"person": person},
        )
    upgrade()
    with db.engine.begin() as conn:
        rows = conn.execute(text("SELECT idempotency_key, lifetime FROM ledger_entries"))
        lifetime = dict(rows.all())
        conn.execute(
            text(
                "INSERT INTO ledger_entries (user_id, amount, lifetime, reason, idempotency_key,"
                " note, created_at) VALUES (:person, 3, 3, 'manual', 'later', '', '2026-02-01')"
            ),
            {"person": person},
        )
        balance = list(conn.execute(text("SELECT balance, lifetime FROM balances")).one())
print("BACKFILL " + json.dumps({"lifetime": lifetime, "balance": balance}))
"""


def _run(script: str, database_url: str, marker: str) -> dict:
    """Run ``script`` against ``database_url`` in its own process; the JSON it printed after
    ``marker``."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "migration-test-secret",
        "SOCKETIO_MESSAGE_QUEUE": "",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith(marker))
    return json.loads(line.removeprefix(marker))


def head_revision() -> str:
    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


@pytest.fixture
def fresh_database_url(app: Flask, tmp_path: Path) -> Iterator[str]:
    """An empty database beside the suite's: an SQLite file, or a new PostgreSQL database."""
    suite_url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if suite_url.get_backend_name() != "postgresql":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    name = f"cocreate_migrations_{secrets.token_hex(4)}"
    admin = sa.create_engine(suite_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield suite_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migrations_have_a_single_head():
    assert len(ScriptDirectory(str(MIGRATIONS)).get_heads()) == 1


def test_migrations_upgrade_downgrade_to_base_and_upgrade_again_on_a_fresh_database(
    fresh_database_url: str, db: SQLAlchemy
):
    steps = _run(ROUND_TRIP, fresh_database_url, "ROUND-TRIP ")

    model_tables = sorted({*db.metadata.tables, "alembic_version"})
    for step in ("upgrade", "upgrade again"):
        steps[step]["tables"] = [t for t in steps[step]["tables"] if _modelled(t)]
    assert steps["upgrade"] == {"tables": model_tables, "revision": head_revision()}
    # Everything goes, the hand-written search tables included.
    assert steps["downgrade"] == {"tables": ["alembic_version"], "revision": None}
    assert steps["upgrade again"] == {"tables": model_tables, "revision": head_revision()}


def test_ledger_entries_written_before_learn_their_lifetime_and_later_ones_move_the_balance(
    fresh_database_url: str,
):
    found = _run(LEDGER_BACKFILL, fresh_database_url, "BACKFILL ")
    assert found["lifetime"] == {
        "supporter:1:9": 1,
        "comment:5": 2,
        "comment:5:reversed": -2,  # the level loses all the undone entry paid
        "redemption:1": 0,  # spending and its refund leave the level as it is
        "redemption:1:reversed": 0,
    }
    assert found["balance"] == [5, 4]


def test_suite_database_is_at_the_head_revision(db: SQLAlchemy):
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    assert current == head_revision()


def _migrate_options() -> dict:
    """The options `flask db migrate` compares with, e.g. its filter for the search tables."""
    configured = current_app.extensions["migrate"].configure_args
    return {**configured, "compare_type": True, "render_as_batch": True}


def _modelled(table_name: str) -> bool:
    include = _migrate_options().get("include_object")
    return include is None or include(None, table_name, "table", True, None)


# SQLite's reflection skips expression indexes (lower(display_name)), saying so; they are
# compared on PostgreSQL.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_models_match_the_migrations(db: SQLAlchemy):
    """If this fails, run `flask --app wsgi db migrate -m "..."` and review the new script."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=_migrate_options())
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def _boolean_default(call: ast.Call) -> str | None:
    """For an ``sa.Column(..., sa.Boolean(), server_default=X)`` call, the source of X."""
    is_boolean = any(
        isinstance(arg, ast.Call) and ast.unparse(arg.func).endswith("Boolean") for arg in call.args
    )
    for keyword in call.keywords:
        if is_boolean and keyword.arg == "server_default":
            return ast.unparse(keyword.value)
    return None


PORTABLE_BOOLEAN_DEFAULTS = {"sa.false()", "sa.true()", "sa.text('false')", "sa.text('true')"}
PORTABLE_BOOLEAN_CLAUSES = (sa.sql.elements.True_, sa.sql.elements.False_)


def test_boolean_server_defaults_in_the_migrations_are_portable():
    """SQLite-generated scripts render a false default as '0' or text('0'); PostgreSQL rejects
    an integer default for a boolean column, so scripts must say sa.false() / sa.true() (or
    text('false') / text('true'))."""
    scripts = sorted((MIGRATIONS / "versions").glob("*.py"))
    assert scripts, "no migration scripts found"
    offending = []
    for script in scripts:
        for node in ast.walk(ast.parse(script.read_text(), filename=str(script))):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("Column"):
                default = _boolean_default(node)
                if default is not None and default not in PORTABLE_BOOLEAN_DEFAULTS:
                    offending.append(f"{script.name}:{node.lineno}: server_default={default}")
    assert offending == []


def test_boolean_server_defaults_in_the_models_are_portable(db: SQLAlchemy):
    offending = [
        f"{column.table.name}.{column.name}: {column.server_default.arg!r}"
        for table in db.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, sa.Boolean)
        and column.server_default is not None
        and not isinstance(column.server_default.arg, PORTABLE_BOOLEAN_CLAUSES)
    ]
    assert offending == []


def test_a_sqlite_table_rebuild_keeps_child_rows(tmp_path):
    """Batch mode copies and drops a table; with foreign keys on, that drop would cascade."""
    import sqlite3

    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    from sqlalchemy import create_engine, text

    path = tmp_path / "rebuild.sqlite3"
    database = sqlite3.connect(path)
    database.executescript(
        "PRAGMA foreign_keys=ON;"
        "CREATE TABLE ideas (id INTEGER PRIMARY KEY, title VARCHAR(10));"
        "CREATE TABLE votes (id INTEGER PRIMARY KEY,"
        " idea_id INTEGER REFERENCES ideas(id) ON DELETE CASCADE);"
        "INSERT INTO ideas VALUES (1, 'x'); INSERT INTO votes VALUES (1, 1);"
    )
    database.close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        # What migrations/env.py does before Alembic begins.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        context = MigrationContext.configure(connection, opts={"render_as_batch": True})
        with context.begin_transaction(), Operations(context).batch_alter_table("ideas") as batch:
            batch.alter_column("title", type_=sa.String(140))
        assert connection.execute(text("SELECT count(*) FROM votes")).scalar() == 1
    engine.dispose()
