"""Profile one request against a bench database: where the time goes, and the query plans.

    python -m bench.profile --work bench/.work/T2-sqlite GET /api/v1/ideas?sort=hot
    python -m bench.profile --work bench/.work/T2-sqlite --token-user 12 PUT /api/v1/ideas/5/vote

Runs the request in-process (Flask's test client, production settings) a few times to warm up,
then once under pyinstrument (the ``bench`` extra), and prints the SQL it ran with each
statement's plan (EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL via
``--database-url``).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="a bench work folder (its cocreate.sqlite3)")
    parser.add_argument("--database-url", help="instead of --work")
    parser.add_argument("--token-user", type=int, help="send a bearer token of this user id")
    parser.add_argument("--repeat", type=int, default=50, help="timed repetitions")
    parser.add_argument("--no-plans", action="store_true")
    parser.add_argument("method")
    parser.add_argument("path")
    parser.add_argument("body", nargs="?")
    args = parser.parse_args(argv)

    url = args.database_url or f"sqlite:///{args.work.resolve() / 'cocreate.sqlite3'}"
    os.environ.update(
        {
            "DATABASE_URL": url,
            "COCREATE_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "SITE_URL": "http://127.0.0.1",
            "SESSION_COOKIE_SECURE": "0",
            "RATELIMIT_ENABLED": "0",
            "LOG_LEVEL": "WARNING",
            "MEDIA_ROOT": "/tmp/cocreate-bench-profile-media",
        }
    )
    from pyinstrument import Profiler
    from sqlalchemy import event

    from app import create_app
    from app.extensions import db

    app = create_app()
    headers = {}
    if args.token_user:
        from app.accounts import services as accounts
        from app.accounts.models import User

        with app.app_context():
            user = db.session.get(User, args.token_user)
            _t, raw = accounts.create_api_token(user, name="bench profile")
        headers["Authorization"] = f"Bearer {raw}"
    kwargs = {"headers": headers}
    if args.body:
        kwargs["data"] = args.body
        headers["Content-Type"] = "application/json"
    client = app.test_client()

    def call():
        response = client.open(args.path, method=args.method, **kwargs)
        if response.status_code >= 400:
            print(response.status_code, response.get_data(as_text=True)[:500], file=sys.stderr)
        return response

    call()
    started = time.perf_counter()
    for _ in range(args.repeat):
        call()
    per_request = (time.perf_counter() - started) / args.repeat * 1000
    print(f"{args.method} {args.path}: {per_request:.2f} ms per request in-process (warm)")

    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "SAVEPOINT", "RELEASE")):
            statements.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(10):
        call()
    profiler.stop()
    event.remove(engine, "before_cursor_execute", record)
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    one = statements[: len(statements) // 10]
    print(f"--- {len(one)} statements per request ---")
    for n, (statement, parameters) in enumerate(one, 1):
        print(f"\n[{n}] {' '.join(statement.split())[:600]}")
        print(f"    parameters: {str(parameters)[:200]}")
        if args.no_plans or not statement.lstrip().upper().startswith("SELECT"):
            continue
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
                for row in plan:
                    print(f"    plan: {row[-1]}")
            else:
                plan = conn.exec_driver_sql(f"EXPLAIN ANALYZE {statement}", parameters).all()
                for row in plan:
                    print(f"    plan: {row[0]}")
            conn.rollback()
    return 0


if __name__ == "__main__":
    sys.exit(main())
