"""Database plumbing shared by every feature: UTC timestamps and SQLite connection settings."""

from __future__ import annotations

import math
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from sqlalchemy import DateTime, Float, event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import Pool
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

try:
    import fcntl
except ImportError:  # not on POSIX: writers rely on SQLite's busy handler alone
    fcntl = None

_write_intent: ContextVar[bool] = ContextVar("cocreate_write_intent", default=False)
_sqlite_busy_timeout_ms = 10_000


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database (SQLite would otherwise hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use app.database.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return as_utc(value)


def as_utc(value) -> datetime | None:
    """A timestamp made an aware UTC datetime: a datetime (naive ones are UTC), or the text
    SQLite stores, as rows read with ``PreparedQuery`` hold it."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class PreparedQuery:
    """A select compiled once to the driver's own SQL, for the hottest reads (a page of ideas).

    ``Connection.execute`` looks the statement up in the compile cache, builds an execution
    context and runs each value through its type on every call: for a page of thirty ideas, more
    time than SQLite took to answer. Run through ``exec_driver_sql`` (statement events, and so
    query counts, still see it), the rows come back as the driver gives them: the caller converts
    what needs it (``as_utc`` for timestamps). Statements whose parameters need the driver's
    help (rendered into the SQL per call, or converted by their type) are refused when compiled.
    """

    def __init__(self, statement, dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        processed = {
            name
            for name, bind in compiled.binds.items()
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None
        }
        if compiled.literal_execute_params or compiled.post_compile_params or processed:
            raise ValueError("PreparedQuery: parameters that need rendering or conversion")
        self.sql = str(compiled)
        self.positions = tuple(compiled.positiontup) if compiled.positional else None
        self.defaults = compiled.construct_params(_check=False)

    def execute(self, connection, params: dict):
        values = {**self.defaults, **params}
        if self.positions is not None:
            return connection.exec_driver_sql(self.sql, tuple(values[n] for n in self.positions))
        return connection.exec_driver_sql(self.sql, values)


@contextmanager
def write_transaction() -> Iterator[None]:
    """Take SQLite's write lock when the next transaction begins.

    A transaction that reads and then writes must hold the lock from its first statement, or a
    concurrent writer can make it fail ("database is locked") or act on a stale read. Requests
    with an unsafe method get this automatically; CLI commands and tests wrap their writes in it.
    PostgreSQL ignores it.
    """
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


def insert_for(dialect: str):
    """The ``insert`` construct of ``dialect`` ("postgresql" or "sqlite"), which has ON
    CONFLICT; for statements built once per database."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return pg_insert if dialect == "postgresql" else sqlite_insert


def upsert(model):
    """INSERT with ON CONFLICT support on either database; pair DO NOTHING with RETURNING to
    learn whether a row went in (the driver's rowcount cannot say: psycopg reports -1)."""
    from app.extensions import db

    return insert_for(db.session.get_bind().dialect.name)(model)


class epoch_seconds(FunctionElement):
    """Seconds since 1970 of a UTC timestamp column, as a float, in SQL on either database."""

    type = Float()
    inherit_cache = True
    name = "epoch_seconds"


@compiles(epoch_seconds)
def _epoch_seconds(element, compiler, **kw) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS FLOAT)"


@compiles(epoch_seconds, "sqlite")
def _epoch_seconds_sqlite(element, compiler, **kw) -> str:
    # SQLite keeps the naive UTC text; julianday() reads it (days since 4714 BC).
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


def row_of(obj):
    """The row itself, where ``obj`` may be a proxy to it (``current_user``): relationships
    and the identity map hold rows, not proxies."""
    return getattr(obj, "_get_current_object", lambda: obj)()


def commit_and_keep(*rows) -> None:
    """Commit, expiring everything the session holds except ``rows``.

    For a write that answers with the rows it just wrote (a vote redraws its button from the
    idea, a comment is returned as JSON): they hold what was committed, and reading them back
    would cost a query each. Every column of theirs changed in SQL must have been set back on
    them (``set_committed_value``) or expired.
    """
    from app.extensions import db

    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    kept = {id(row_of(row)) for row in rows}
    for row in list(session.identity_map.values()):
        if id(row) not in kept:
            session.expire(row)


def release_write_lock() -> None:
    """End the transaction so far before slow work (Argon2, image re-encoding).

    On SQLite a request that writes holds the database-wide write lock from its first query;
    slow work under it makes every other writer wait. Call it only where nothing is pending:
    the next query starts a fresh transaction (and takes the lock again).
    """
    from app.extensions import db

    db.session.commit()


def mark_write_intent() -> None:
    """For the rest of this request, SQLite transactions begin IMMEDIATE (see write_transaction)."""
    _write_intent.set(True)


def clear_write_intent() -> None:
    _write_intent.set(False)


def configure_sqlite(busy_timeout_ms: int) -> None:
    global _sqlite_busy_timeout_ms
    _sqlite_busy_timeout_ms = busy_timeout_ms


_postgres_random_page_cost: str | None = None


def configure_postgres(random_page_cost: str | None) -> None:
    """What PostgreSQL connections set when they open (None: the server's own settings)."""
    global _postgres_random_page_cost
    _postgres_random_page_cost = random_page_cost or None


def _on_postgres_connect(dbapi_connection) -> None:
    # The server's default random_page_cost (4) prices an index lookup as if read from a
    # spinning disk. A community's data is small and read hot: with it, a conversation of eleven
    # comments found its authors by walking the whole users index (2.3 ms at 20,000 people)
    # instead of eleven lookups (0.07 ms).
    if _postgres_random_page_cost is not None:
        dbapi_connection.execute(
            "SELECT set_config('random_page_cost', %s, false)", [_postgres_random_page_cost]
        )
        dbapi_connection.commit()


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection, connection_record) -> None:
    if type(dbapi_connection).__module__.startswith("psycopg"):
        _on_postgres_connect(dbapi_connection)
        return
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # We issue BEGIN ourselves (below); pysqlite's own implicit BEGIN would be deferred, and it
    # would also break SAVEPOINT.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(_sqlite_busy_timeout_ms)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    path = _writer_lock_path(dbapi_connection) if fcntl is not None else None
    if path:
        connection_record.info["writer_lock_fd"] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:  # the hot score moves in SQL; SQLite has log10 only when built with its math functions
        cursor.execute("SELECT log10(10)")
    except sqlite3.OperationalError:
        dbapi_connection.create_function("log10", 1, math.log10, deterministic=True)
    cursor.close()


# Writers take turns through a lock file beside the database before SQLite's own write lock.
# SQLite's busy handler makes a waiting writer sleep 1, 2, 5 … 100 ms between tries, and the
# process that just committed usually takes the lock again before the sleeper wakes: with
# several workers, a few writes waited hundreds of milliseconds. A waiter here polls every half
# millisecond instead, so the lock passes to whoever waited as soon as it is free.
_WRITER_POLL_S = 0.0005


def _writer_lock_path(dbapi_connection) -> str | None:
    for _seq, name, path in dbapi_connection.execute("PRAGMA database_list"):
        if name == "main":
            return f"{path}-writer.lock" if path else None  # "" for in-memory databases
    return None


def _take_writer_turn(info: dict) -> None:
    fd = info.get("writer_lock_fd")
    if fd is None or info.get("writer_turn"):
        return
    deadline = time.monotonic() + _sqlite_busy_timeout_ms / 1000
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return  # SQLite's own lock and busy timeout still decide
            time.sleep(_WRITER_POLL_S)
            continue
        info["writer_turn"] = True
        return


def _end_writer_turn(info: dict) -> None:
    if info.pop("writer_turn", False):
        fcntl.flock(info["writer_lock_fd"], fcntl.LOCK_UN)


@event.listens_for(Pool, "checkin")
def _on_checkin(dbapi_connection, connection_record) -> None:
    # A transaction ended by the pool's reset (not through a Connection) ends its turn too.
    if connection_record is not None:
        _end_writer_turn(connection_record.info)


@event.listens_for(Pool, "close")
def _on_close(dbapi_connection, connection_record) -> None:
    fd = connection_record.info.pop("writer_lock_fd", None)
    if fd is not None:
        connection_record.info.pop("writer_turn", None)
        os.close(fd)  # closing the descriptor also drops its lock


@event.listens_for(Engine, "begin")
def _on_begin(conn) -> None:
    if conn.dialect.name != "sqlite":
        return
    if _write_intent.get():
        _take_writer_turn(conn.connection.info)
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


@event.listens_for(Engine, "commit")
def _on_commit(conn) -> None:
    if conn.dialect.name == "sqlite":
        # Before the COMMIT itself: the next writer's BEGIN IMMEDIATE then waits a moment in
        # SQLite's busy handler, which is short while the commit runs.
        _end_writer_turn(conn.connection.info)


@event.listens_for(Engine, "rollback")
def _on_rollback(conn) -> None:
    if conn.dialect.name == "sqlite":
        _end_writer_turn(conn.connection.info)


# psycopg forgets the statements it prepared (after five runs of the same query on a
# connection) whenever a transaction ends in ROLLBACK, which is how every read request ended:
# each request planned its queries anew, 2 ms for the idea page's. A transaction that ran only
# SELECTs is therefore ended by COMMIT (end_read_transaction), which changes nothing else.
def _only_reads(statement: str) -> bool:
    text = statement.lstrip()
    head = text[:6].upper()
    if head == "SELECT":
        return True
    upper = text.upper()
    return head.startswith("WITH") and not any(w in upper for w in ("INSERT", "UPDATE", "DELETE"))


@event.listens_for(Engine, "before_cursor_execute")
def _note_writes(conn, cursor, statement, parameters, context, executemany) -> None:
    postgres = conn.dialect.name == "postgresql"
    if postgres and not conn.info.get("cocreate_wrote") and not _only_reads(statement):
        conn.info["cocreate_wrote"] = True


@event.listens_for(Engine, "begin")
def _forget_writes(conn) -> None:
    if conn.dialect.name == "postgresql":
        conn.info["cocreate_wrote"] = False


def end_read_transaction(session) -> None:
    """End the session's transaction by COMMIT when, on PostgreSQL, it only read: nothing
    pending in the session, no statement but a SELECT, nothing waiting to be announced."""
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return
    if session.info.get("on_commit") or session.get_bind().dialect.name != "postgresql":
        return
    if not session.connection().info.get("cocreate_wrote", True):
        session.commit()


def on_commit(session, callback) -> None:
    """Run ``callback()`` once the session's current transaction commits; drop it on rollback.

    Mail and live broadcasts go out this way, so nothing is announced that did not happen.
    """
    session.info.setdefault("on_commit", []).append(callback)


def _install_session_hooks() -> None:
    import logging

    from sqlalchemy.orm import Session

    @event.listens_for(Session, "after_commit")
    def _run_on_commit(session) -> None:
        if session.in_nested_transaction():
            return  # a SAVEPOINT was released; the transaction itself has not committed
        for callback in session.info.pop("on_commit", []):
            try:
                callback()
            except Exception:  # the data is saved; a failed announcement must not undo that
                logging.getLogger(__name__).exception("After-commit work failed")

    @event.listens_for(Session, "after_transaction_end")
    def _drop_uncommitted(session, transaction) -> None:
        if transaction.parent is None:  # rolled back, or closed without committing
            session.info.pop("on_commit", None)


_install_session_hooks()


def render_migration_type(type_: str, obj, autogen_context):
    """Alembic autogenerate: write our UTCDateTime as the plain column type it stores."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


# Search structures that the migrations create per database and the models do not describe.
_UNMODELLED_TABLES = ("ideas_fts",)
_UNMODELLED_COLUMNS = {"search_vector"}
_UNMODELLED_INDEXES = {"ix_ideas_search_vector"}


def include_in_migrations(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic autogenerate: leave the full-text search structures to their hand-written SQL."""
    if type_ == "table" and name and name.startswith(_UNMODELLED_TABLES):
        return False
    if type_ == "column" and name in _UNMODELLED_COLUMNS:
        return False
    return not (type_ == "index" and name in _UNMODELLED_INDEXES)
