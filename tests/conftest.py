"""Shared fixtures.

The suite runs against SQLite by default and against PostgreSQL when ``TEST_DATABASE_URL`` names
one (``make test`` does both). The schema comes from the migrations, as in production. Each test
sees an empty database: rows are deleted after every test rather than rolled back, because
requests, live servers and concurrency tests commit for real in other connections.
"""

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import event, text

from app import create_app
from app.extensions import db as _db
from app.extensions import limiter
from config import TestConfig

# Transaction control and connection settings are not queries a page "costs".
NOT_QUERIES = ("BEGIN", "SAVEPOINT", "RELEASE", "PRAGMA")
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class CocreateClient(FlaskClient):
    """A test client that can fetch a CSRF token and post forms the way a browser does.

    Each request runs as it would in production: in its own app context, with its own ``g``
    and its own database session. (Flask would otherwise reuse the test's app context, so a
    request would see the test's session, its cached objects and Flask-Login's cached user.)
    The test's own transaction is committed first, so the request sees what the test made and
    the test then reads what the request wrote.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            _db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)

    def csrf_token(self) -> str:
        """The token htmx would send (signed in: the layout's meta tag), or the one in the login
        form (signed out, pages carry none)."""
        match = CSRF_META.search(self.get("/").get_data(as_text=True))
        if match is None:
            match = CSRF_FIELD.search(self.get("/login").get_data(as_text=True))
        assert match, "no CSRF token: neither the layout's meta tag nor the login form's field"
        return match.group(1)

    def post_form(self, url: str, data: dict | None = None, **kwargs):
        form = {"csrf_token": self.csrf_token(), **(data or {})}
        return self.post(url, data=form, **kwargs)


def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def reset_schema(app: Flask) -> None:
    """Drop everything and upgrade from the migrations, so the suite tests them too."""
    from flask_migrate import upgrade

    with app.app_context():
        if _db.engine.dialect.name == "postgresql":
            with _db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            _db.drop_all()
            with _db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()


@pytest.fixture(scope="session")
def app_config(tmp_path_factory: pytest.TempPathFactory) -> type[TestConfig]:
    class SuiteConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url(tmp_path_factory)
        MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))

    return SuiteConfig


@pytest.fixture(scope="session")
def app(app_config: type[TestConfig]) -> Flask:
    application = create_app(app_config)
    application.test_client_class = CocreateClient
    reset_schema(application)
    return application


def delete_all_rows(app: Flask) -> None:
    with app.app_context():
        tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
        with _db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(autouse=True)
def db(app: Flask) -> Iterator:
    """The database, empty at the start of each test, inside an app context."""
    with app.app_context():
        yield _db
        _db.session.remove()
    delete_all_rows(app)
    limiter.reset()


@pytest.fixture
def client(app: Flask) -> CocreateClient:
    return app.test_client()


@pytest.fixture
def login(client: CocreateClient) -> Callable:
    """``login(user)`` signs the test client in through the real login form."""
    from tests.factories import PASSWORD

    def _login(user, password: str = PASSWORD, remember: bool = False):
        data = {"email": user.email, "password": password}
        if remember:
            data["remember"] = "y"
        response = client.post_form("/login", data)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    return _login


@pytest.fixture
def api_token(client: CocreateClient) -> Callable:
    """``api_token(user)`` returns a fresh bearer token, made through POST /api/v1/tokens."""
    from tests.factories import PASSWORD

    def _token(user, password: str = PASSWORD) -> str:
        response = client.post("/api/v1/tokens", json={"email": user.email, "password": password})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["token"]

    return _token


@pytest.fixture
def count_queries(app: Flask) -> Callable:
    """``with count_queries() as n: ...`` then ``n()`` is the number of SQL statements run."""

    @contextmanager
    def _count():
        statements: list[str] = []

        def _record(conn, cursor, statement, *args) -> None:
            if not statement.lstrip().upper().startswith(NOT_QUERIES):
                statements.append(statement)

        engine = _db.engine
        event.listen(engine, "before_cursor_execute", _record)
        try:
            yield lambda: len(statements)
        finally:
            event.remove(engine, "before_cursor_execute", _record)

    return _count


@pytest.fixture
def outbox() -> Callable:
    """``outbox()`` lists the messages in the mail outbox, oldest first."""
    from sqlalchemy import select

    from app.mail.models import OutboxMessage

    def _messages() -> list[OutboxMessage]:
        _db.session.expire_all()
        return list(_db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    return _messages


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The throwaway Redis that make test starts (TEST_REDIS_URL); required under CI."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("TEST_REDIS_URL is not set: make test starts a Redis server for this test")
        pytest.skip("no Redis server (make test starts one)")
    return url


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
