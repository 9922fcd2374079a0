"""`make bench`: seed, serve as in production, load with wrk, compare with the baseline, report.

    python -m bench.run --tier T2 --db sqlite
    BENCH_DURATION=5 BENCH_CONNECTIONS=16 python -m bench.run --tier T1

One run seeds a fresh database with ``flask seed-demo`` at the tier's size (and the baseline's own
database at the same size), starts Cocreate and the baseline under gunicorn (2 sync workers, no
debug, rate limits off, ``COUNT_QUERIES`` on), and drives each path with wrk over loopback. A
path paired with a baseline path runs interleaved with it, at least twice, and the better run of
each is kept. Results: ``bench/results/<date>-<tier>-<db>.json`` and ``.md``, and the latency
chart (``BENCH_RESULTS_DIR`` puts them elsewhere: the smoke run of ``make test`` does). Exits 1
when any request failed (an answer outside 2xx/3xx, or a socket error), never because of speed.

``--db postgres`` runs itself again inside ``scripts/with-postgres.sh`` (a throwaway cluster).
Everything lives in ``bench/.work/<tier>-<db>/`` (the developer's instance/ is never touched).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import http.cookiejar
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
LUA = BENCH / "lua" / "requests.lua"
VENV_BIN = Path(sys.executable).parent

TIERS = {
    "T1": {"people": 200, "ideas": 500, "votes": 1_000, "comments": 0, "duration": 3},
    "T2": {"people": 20_000, "ideas": 10_000, "votes": 200_000, "comments": 50_000, "duration": 10},
    "T3": {
        "people": 100_000,
        "ideas": 100_000,
        "votes": 1_000_000,
        "comments": 500_000,
        "duration": 10,
    },
}
DEMO_PASSWORD = "cocreate-demo"  # app/demo.py; generated customers share the demo hash
SEARCH_WORDS = ["solar", "foldable", "modular", "refillable", "wireless", "compact"]


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- servers --------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        children = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            text = (task / "children").read_text().split()
            children += [int(pid) for pid in text]
        return children

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(name: str, app: str, env: dict, work: Path, workers: int) -> Server:
    port = free_port()
    log_path = work / f"{name}-gunicorn.log"
    command = [
        str(VENV_BIN / "gunicorn"),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--no-control-socket",
        "--log-level",
        "warning",
        "--timeout",
        "60",
        app,
    ]
    with log_path.open("w") as handle:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=handle)
    server = Server(name, port, process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: {name} did not start:\n{log_path.read_text()[-3000:]}")
        try:
            status, _headers, _body = plain_request(server.base, "GET", "/healthz")
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"bench: {name} did not answer /healthz within 60 s")


def plain_request(
    base: str, method: str, path: str, body: str | None = None, headers: dict | None = None
) -> tuple[int, dict, bytes]:
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


# --- what is measured -----------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        fields = [self.method, self.path, self.body or "-"]
        fields += [f"{k}: {v}" for k, v in self.headers.items()]
        return "\t".join(fields)


@dataclass
class Path_:
    """One measured path: a list of requests cycled through by wrk (built when first needed)."""

    name: str
    label: str
    server: str  # "site" or "baseline"
    kind: str  # "read" or "write"
    build: Callable[[], list[Request]]
    # One plain request (or a few, e.g. a vote and its withdrawal) to read X-Query-Count from.
    probe: Callable[[], list[Request]] | None = None
    paired_with: str | None = None
    requests: list[Request] | None = None
    plan_file: Path | None = None
    runs: list[dict] = field(default_factory=list)
    queries: dict[str, int] = field(default_factory=dict)
    note: str = ""


def write_plan(path: Path, sequences: list[list[Request]]) -> None:
    """Interleave per-thread sequences so that wrk's thread t gets sequence t, in order."""
    length = max(len(s) for s in sequences)
    lines = []
    for j in range(length):
        for seq in sequences:
            lines.append(seq[j % len(seq)].line())
    path.write_text("\n".join(lines) + "\n")


def run_wrk(url: str, plan: Path, *, duration: int, connections: int, threads: int) -> dict:
    env = {**os.environ, "BENCH_REQUESTS": str(plan), "BENCH_THREADS": str(threads)}
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
    ]
    load_before = os.getloadavg()[0]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=duration + 60)
    load_after = os.getloadavg()[0]
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            raw = json.loads(line[len("BENCH_JSON ") :])
            break
    else:
        raise SystemExit(f"bench: wrk gave no summary:\n{done.stdout}\n{done.stderr}")
    seconds = raw["duration_us"] / 1e6
    errors = (
        raw["failed_status"]
        + raw["connect_errors"]
        + raw["read_errors"]
        + raw["write_errors"]
        + raw["timeouts"]
    )
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 2),
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "mean_ms": round(raw["mean_us"] / 1000, 3),
        "errors": errors,
        "error_detail": {
            k: raw[k]
            for k in ("failed_status", "connect_errors", "read_errors", "write_errors", "timeouts")
            if raw[k]
        },
        "first_failure": raw["first_failure"],
        # The machine's 1-minute load average around the run: other work on a shared machine
        # shows here (2 CPUs: above ~4 means the run competed for them).
        "load1": [round(load_before, 2), round(load_after, 2)],
    }


# --- preparing data through the app ---------------------------------------------------------


class Site:
    """In-process access to the bench database through Cocreate's own code."""

    def __init__(self) -> None:
        from app import create_app

        self.app = create_app()

    def mint_tokens(self, count: int, seed: int) -> list[tuple[int, str]]:
        """API tokens for ``count`` generated customers, minted by the accounts service."""
        from sqlalchemy import select

        from app.accounts import services as accounts
        from app.accounts.models import User, UserRole
        from app.database import write_transaction
        from app.extensions import db

        with self.app.app_context():
            customers = list(
                db.session.scalars(
                    select(User.id)
                    .where(~select(UserRole.user_id).where(UserRole.user_id == User.id).exists())
                    .where(User.email.like("customer%"))
                    .order_by(User.id)
                )
            )
            chosen = random.Random(seed).sample(customers, min(count, len(customers)))
            tokens = []
            for user_id in chosen:
                with write_transaction():
                    user = db.session.get(User, user_id)
                    _token, raw = accounts.create_api_token(user, name="make bench")
                tokens.append((user_id, raw))
                db.session.expunge_all()  # each commit would expire every object loaded so far
            return tokens

    def vote_pairs(
        self, tokens: list[tuple[int, str]], count: int, seed: int
    ) -> list[tuple[str, int]]:
        """(token, idea id) pairs a customer may support and does not support yet."""
        from sqlalchemy import select

        from app.extensions import db
        from app.ideas.models import Idea, Vote

        rng = random.Random(seed)
        with self.app.app_context():
            ideas = db.session.execute(
                select(Idea.id, Idea.author_id).where(
                    Idea.status == "open", Idea.challenge_id.is_(None)
                )
            ).all()
            users = [user_id for user_id, _raw in tokens]
            existing = set(
                db.session.execute(
                    select(Vote.voter_id, Vote.idea_id).where(Vote.voter_id.in_(users))
                ).all()
            )
        rng.shuffle(ideas)
        pairs, seen = [], set()
        attempts = 0
        while len(pairs) < count and attempts < count * 20:
            user_id, raw = tokens[attempts % len(tokens)]
            idea_id, author_id = ideas[(attempts * 7919 + attempts // len(tokens)) % len(ideas)]
            attempts += 1
            if author_id == user_id or (user_id, idea_id) in existing:
                continue
            if (user_id, idea_id) in seen:
                continue
            seen.add((user_id, idea_id))
            pairs.append((raw, idea_id))
        rng.shuffle(pairs)
        return pairs

    def listed_ideas(self, count: int, seed: int) -> list[int]:
        from sqlalchemy import select

        from app.extensions import db
        from app.ideas.models import Idea
        from app.ideas.services import LISTED

        with self.app.app_context():
            ids = list(db.session.scalars(select(Idea.id).where(Idea.status.in_(LISTED))))
        rng = random.Random(seed)
        return rng.sample(ids, min(count, len(ids)))

    def busiest_recipient(self) -> tuple[str, int]:
        """The customer with the most notifications (email, how many)."""
        from sqlalchemy import func, select

        from app.accounts.models import User, UserRole
        from app.community.models import Notification
        from app.extensions import db

        with self.app.app_context():
            row = db.session.execute(
                select(User.email, func.count(Notification.id).label("n"))
                .join(Notification, Notification.recipient_id == User.id)
                .where(~select(UserRole.user_id).where(UserRole.user_id == User.id).exists())
                .group_by(User.id, User.email)
                .order_by(func.count(Notification.id).desc(), User.id)
                .limit(1)
            ).first()
            if row is None:
                return "lena@example.com", 0
            return row.email, row.n


def login_cookie(base: str, email: str, password: str) -> str:
    """Log in through the /login form (with its CSRF token); the Cookie header to send."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login", timeout=30).read().decode()
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    if not match:
        raise SystemExit("bench: no CSRF token on /login")
    form = urllib.parse.urlencode(
        {"csrf_token": match.group(1), "email": email, "password": password}
    ).encode()
    response = opener.open(f"{base}/login", data=form, timeout=60)
    if response.status != 200 or "/login" in response.geturl():
        raise SystemExit(f"bench: logging in as {email} failed ({response.status})")
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "session=" not in cookies:
        raise SystemExit("bench: no session cookie after logging in")
    return cookies


def warm_tokens(base: str, tokens: list[tuple[int, str]]) -> None:
    """Use each token once, so its first-use bookkeeping is not part of the measurement."""

    def use(raw: str) -> int:
        status, _h, _b = plain_request(
            base, "GET", "/api/v1/me", headers={"Authorization": f"Bearer {raw}"}
        )
        return status

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(use, [raw for _id, raw in tokens]))
    bad = [s for s in statuses if s != 200]
    if bad:
        raise SystemExit(f"bench: {len(bad)} tokens were refused (e.g. {bad[0]})")


# --- the run --------------------------------------------------------------------------------


def tier_settings(tier: str) -> dict:
    settings = dict(TIERS[tier])
    settings["duration"] = int(os.environ.get("BENCH_DURATION") or settings["duration"])
    settings["connections"] = int(os.environ.get("BENCH_CONNECTIONS") or 8)
    settings["threads"] = int(os.environ.get("BENCH_THREADS") or 2)
    settings["workers"] = 2
    # Paths paired with the baseline always run at least twice; the others once on T1 (a smoke
    # test that must stay around two minutes), twice on the larger tiers.
    default_repeat = 1 if tier == "T1" else 2
    settings["repeat_unpaired"] = int(os.environ.get("BENCH_REPEAT") or default_repeat)
    settings["repeat_paired"] = max(2, settings["repeat_unpaired"])
    return settings


def postgres_admin_url(url: str, database: str) -> str:
    parts = urllib.parse.urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    return urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))


def database_size_mb(url: str) -> float:
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        total = sum(
            p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
        )
        return round(total / 1e6, 1)
    import psycopg

    name = urllib.parse.urlsplit(url).path.lstrip("/")
    with psycopg.connect(postgres_admin_url(url, name)) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return round(size / 1e6, 1)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def timed(command: list[str], env: dict, label: str) -> float:
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"bench: {label} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    log(f"{label}: {elapsed:.1f} s")
    return elapsed


def build_paths(
    site: Site,
    servers: dict[str, Server],
    settings: dict,
    state: dict,
) -> list[Path_]:
    threads = settings["threads"]
    tokens: list[tuple[int, str]] = state["tokens"]
    idea_ids: list[int] = state["idea_ids"]
    pairs: list[tuple[str, int]] = state["pairs"]
    probe_pair: tuple[str, int] = state["probe_pair"]
    base_pairs: list[tuple[str, int]] = state["baseline_pairs"]
    base_probe: tuple[str, int] = state["baseline_probe"]

    def one(method: str, path: str) -> Callable[[], list[Request]]:
        return lambda: [Request(method, path)]

    def bearer(raw: str, json_body: bool = False) -> dict:
        headers = {"Authorization": f"Bearer {raw}"}
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def vote_sequences(pair_list: list[tuple[str, int]], prefix: str) -> list[list[Request]]:
        """Per thread: its pairs' votes, then their withdrawals; again and again."""
        sequences = []
        for t in range(threads):
            mine = pair_list[t::threads]
            sequences.append(
                [Request("PUT", f"{prefix}/{idea}/vote", None, bearer(raw)) for raw, idea in mine]
                + [
                    Request("DELETE", f"{prefix}/{idea}/vote", None, bearer(raw))
                    for raw, idea in mine
                ]
            )
        return sequences

    def vote_probe(raw: str, idea: int, prefix: str) -> Callable[[], list[Request]]:
        return lambda: [
            Request("PUT", f"{prefix}/{idea}/vote", None, bearer(raw)),
            Request("DELETE", f"{prefix}/{idea}/vote", None, bearer(raw)),
        ]

    def comments() -> list[Request]:
        rng = random.Random(11)
        targets = idea_ids[:500]
        return [
            Request(
                "POST",
                f"/api/v1/ideas/{rng.choice(targets)}/comments",
                json.dumps({"body": f"Bench comment {n}: I would buy this."}),
                bearer(tokens[n % len(tokens)][1], json_body=True),
            )
            for n in range(2000)
        ]

    def notifications() -> list[Request]:
        email, count = site.busiest_recipient()
        cookie = login_cookie(servers["site"].base, email, DEMO_PASSWORD)
        state["notifications_user"] = {"email": email, "notifications": count}
        log(f"notifications page as {email} ({count} notifications)")
        return [Request("GET", "/notifications", None, {"Cookie": cookie})]

    paths = [
        Path_(
            "hot_json",
            "Hot list, JSON (/api/v1/ideas?sort=hot)",
            "site",
            "read",
            one("GET", "/api/v1/ideas?sort=hot"),
            paired_with="baseline_hot",
        ),
        Path_(
            "baseline_hot",
            "Baseline: hot list, JSON",
            "baseline",
            "read",
            one("GET", "/ideas?sort=hot"),
        ),
        Path_(
            "hot_html",
            "Hot list, HTML page (/ideas)",
            "site",
            "read",
            one("GET", "/ideas"),
            paired_with="hot_json",
        ),
        Path_(
            "new_json",
            "Newest list, JSON (/api/v1/ideas?sort=new)",
            "site",
            "read",
            one("GET", "/api/v1/ideas?sort=new"),
            paired_with="baseline_new",
        ),
        Path_(
            "baseline_new",
            "Baseline: newest list, JSON",
            "baseline",
            "read",
            one("GET", "/ideas?sort=new"),
        ),
        Path_("top_json", "Top list, JSON", "site", "read", one("GET", "/api/v1/ideas?sort=top")),
        Path_(
            "trending_json",
            "Trending list, JSON",
            "site",
            "read",
            one("GET", "/api/v1/ideas?sort=trending"),
        ),
        Path_(
            "search_json",
            "Search, JSON (/api/v1/ideas?q=…)",
            "site",
            "read",
            lambda: [Request("GET", f"/api/v1/ideas?q={w}") for w in SEARCH_WORDS],
        ),
        Path_(
            "idea_html",
            "Idea page, HTML (/ideas/<id>)",
            "site",
            "read",
            lambda: [Request("GET", f"/ideas/{i}") for i in idea_ids],
        ),
        Path_(
            "idea_json",
            "Idea, JSON (/api/v1/ideas/<id>)",
            "site",
            "read",
            lambda: [Request("GET", f"/api/v1/ideas/{i}") for i in idea_ids],
        ),
        Path_(
            "vote",
            "Vote + withdrawal (PUT/DELETE /api/v1/ideas/<id>/vote)",
            "site",
            "write",
            lambda: vote_sequences(pairs, "/api/v1/ideas"),
            probe=vote_probe(*probe_pair, "/api/v1/ideas"),
            paired_with="baseline_vote",
        ),
        Path_(
            "baseline_vote",
            "Baseline: vote + withdrawal",
            "baseline",
            "write",
            lambda: vote_sequences(base_pairs, "/ideas"),
            probe=vote_probe(*base_probe, "/ideas"),
        ),
        Path_(
            "comment",
            "Post a comment (POST /api/v1/ideas/<id>/comments)",
            "site",
            "write",
            comments,
        ),
        Path_("notifications_html", "Notifications page, HTML", "site", "read", notifications),
        Path_(
            "leaderboard_json",
            "Leaderboard, JSON (/api/v1/leaderboard)",
            "site",
            "read",
            one("GET", "/api/v1/leaderboard?period=week"),
        ),
    ]
    status, _h, _b = plain_request(servers["site"].base, "GET", "/leaderboard")
    if status == 200:
        paths.append(
            Path_(
                "leaderboard_html", "Leaderboard, HTML", "site", "read", one("GET", "/leaderboard")
            )
        )
    else:
        state["skipped"].append(f"leaderboard_html: GET /leaderboard answers {status}")
        log(f"no HTML leaderboard yet (GET /leaderboard: {status}); skipped")
    return paths


def probe_queries(path: Path_, server: Server) -> tuple[dict[str, int], list[str]]:
    """X-Query-Count of one plain request per method (e.g. the vote and its withdrawal)."""
    requests = path.probe() if path.probe else path.requests[:1]
    counts, problems = {}, []
    for req in requests:
        status, headers, body = plain_request(
            server.base, req.method, req.path, req.body, req.headers
        )
        if not 200 <= status < 400:
            problems.append(f"{req.method} {req.path}: {status} {body[:200]!r}")
        if "x-query-count" in headers:
            counts[req.method] = int(headers["x-query-count"])
    return counts, problems


def best_run(runs: list[dict]) -> dict:
    return max(runs, key=lambda r: r["rps"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark Cocreate against a plain baseline.")
    parser.add_argument("--tier", default=os.environ.get("TIER", "T2"), choices=sorted(TIERS))
    parser.add_argument(
        "--db", default=os.environ.get("DB", "sqlite"), choices=("sqlite", "postgres")
    )
    args = parser.parse_args(argv)

    if args.db == "postgres" and not os.environ.get("BENCH_POSTGRES_URL"):
        if shutil.which("wrk") is None:
            raise SystemExit("bench: wrk is not installed (make bench installs it)")
        # A throwaway cluster for this run: re-run inside scripts/with-postgres.sh.
        wrapper = [
            str(ROOT / "scripts" / "with-postgres.sh"),
            "bash",
            "-c",
            'BENCH_POSTGRES_URL="$TEST_DATABASE_URL" exec "$@"',
            "bench",
            sys.executable,
            "-m",
            "bench.run",
            "--tier",
            args.tier,
            "--db",
            args.db,
        ]
        env = {**os.environ, "PYTHON": sys.executable}
        return subprocess.run(wrapper, cwd=ROOT, env=env).returncode
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is not installed (make bench installs it)")

    started_run = time.monotonic()
    tier, db_kind = args.tier, args.db
    settings = tier_settings(tier)
    work = BENCH / ".work" / f"{tier}-{db_kind}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "media").mkdir(parents=True)
    if db_kind == "sqlite":
        site_url = f"sqlite:///{work / 'cocreate.sqlite3'}"
        baseline_url = f"sqlite:///{work / 'baseline.sqlite3'}"
    else:
        import psycopg

        site_url = os.environ["BENCH_POSTGRES_URL"]
        with psycopg.connect(postgres_admin_url(site_url, "postgres"), autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS bench_baseline")
            conn.execute("CREATE DATABASE bench_baseline")
        baseline_url = site_url.rsplit("/", 1)[0] + "/bench_baseline"

    site_port_env = {
        "DATABASE_URL": site_url,
        "COCREATE_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "SITE_URL": "http://127.0.0.1",
        # Plain HTTP on loopback: the session cookie must come back without TLS.
        "SESSION_COOKIE_SECURE": "0",
        "RATELIMIT_ENABLED": "0",
        "RATELIMIT_STORAGE_URI": "memory://",
        "COUNT_QUERIES": "1",
        "MEDIA_ROOT": str(work / "media"),
        "LOG_LEVEL": "WARNING",
    }
    env = {
        k: v for k, v in os.environ.items() if k not in ("SOCKETIO_MESSAGE_QUEUE", "FLASK_DEBUG")
    }
    env.update(site_port_env)
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    os.environ.update(site_port_env)  # for the in-process Site below

    log(f"{tier} on {db_kind}: {TIERS[tier]}; work folder {work.relative_to(ROOT)}")
    flask = [str(VENV_BIN / "flask"), "--app", "wsgi"]
    migrate_s = timed([*flask, "db", "upgrade"], env, "db upgrade")
    seed_command = [
        *flask,
        "seed-demo",
        "--ideas",
        str(settings["ideas"]),
        "--votes",
        str(settings["votes"]),
        "--people",
        str(settings["people"]),
    ]
    if settings["comments"]:
        seed_command += ["--comments", str(settings["comments"])]
    seed_s = timed(seed_command, env, "seed-demo")
    baseline_seed_s = timed(
        [
            sys.executable,
            "-m",
            "bench.baseline.seed",
            "--url",
            baseline_url,
            "--people",
            str(settings["people"]),
            "--ideas",
            str(settings["ideas"]),
            "--votes",
            str(settings["votes"]),
        ],
        env,
        "baseline seed",
    )

    site = Site()
    token_count = 150 if tier == "T1" else 1000
    tokens = site.mint_tokens(token_count, seed=5)
    log(f"minted {len(tokens)} API tokens")
    pairs = site.vote_pairs(tokens, 1 + 500 * settings["threads"], seed=6)
    probe_pair, pairs = pairs[0], pairs[1:]
    idea_ids = site.listed_ideas(500, seed=7)
    base_rng = random.Random(8)
    people, ideas_n = settings["people"], settings["ideas"]
    base_pairs, seen = [], set()
    from bench.baseline.seed import token_for

    while len(base_pairs) < 1 + 500 * settings["threads"]:
        person, idea = base_rng.randint(1, people), base_rng.randint(1, ideas_n)
        if (person, idea) not in seen:
            seen.add((person, idea))
            base_pairs.append((token_for(person), idea))
    state = {
        "tokens": tokens,
        "pairs": pairs,
        "probe_pair": probe_pair,
        "idea_ids": idea_ids,
        "baseline_pairs": base_pairs[1:],
        "baseline_probe": base_pairs[0],
        "skipped": [],
    }

    # Withdraw the seeded votes of the baseline's pairs, so every vote in the run is a real one.
    clear_baseline_votes(baseline_url, state["baseline_pairs"] + [state["baseline_probe"]])
    base_env = {**env, "BASELINE_DATABASE_URL": baseline_url}
    servers: dict[str, Server] = {}
    failures: list[str] = []
    try:
        servers["site"] = start_server("site", "wsgi:app", env, work, settings["workers"])
        servers["baseline"] = start_server(
            "baseline", "bench.baseline.wsgi:app", base_env, work, settings["workers"]
        )
        warm_tokens(servers["site"].base, tokens)
        paths = build_paths(site, servers, settings, state)
        by_name = {p.name: p for p in paths}
        paired = {p.name for p in paths if p.paired_with} | {
            p.paired_with for p in paths if p.paired_with
        }
        rounds = settings["repeat_paired"]
        for round_no in range(rounds):
            for path in paths:
                repeat = settings["repeat_paired" if path.name in paired else "repeat_unpaired"]
                if round_no >= repeat:
                    continue
                server = servers[path.server]
                if path.requests is None:
                    built = path.build()
                    sequences = built if built and isinstance(built[0], list) else [built]
                    path.requests = [r for seq in sequences for r in seq]
                    path.plan_file = work / f"plan-{path.name}.tsv"
                    write_plan(path.plan_file, sequences)
                    path.queries, problems = probe_queries(path, server)
                    failures += [f"{path.name}: {p}" for p in problems]
                result = run_wrk(
                    server.base,
                    path.plan_file,
                    duration=settings["duration"],
                    connections=settings["connections"],
                    threads=settings["threads"],
                )
                path.runs.append(result)
                if result["errors"]:
                    failures.append(
                        f"{path.name}: {result['errors']} errors {result['error_detail']} "
                        f"first: {result['first_failure']}"
                    )
                log(
                    f"{path.name:<20} run {round_no + 1}: {result['rps']:>8.1f} req/s  "
                    f"p50 {result['p50_ms']:.1f} ms  p99 {result['p99_ms']:.1f} ms  "
                    f"errors {result['errors']}  queries {path.queries}"
                )
        memory = {
            name: [rss_mb(pid) for pid in server.worker_pids()] for name, server in servers.items()
        }
    finally:
        for server in servers.values():
            server.stop()

    sizes = {"site": database_size_mb(site_url), "baseline": database_size_mb(baseline_url)}
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tier": tier,
        "db": db_kind,
        "sizes": {k: settings[k] for k in ("people", "ideas", "votes", "comments")},
        "settings": {
            k: settings[k]
            for k in (
                "duration",
                "connections",
                "threads",
                "workers",
                "repeat_paired",
                "repeat_unpaired",
            )
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "seed": {
            "migrate_s": round(migrate_s, 1),
            "site_s": round(seed_s, 1),
            "baseline_s": round(baseline_seed_s, 1),
        },
        "paths": [
            {
                "name": p.name,
                "label": p.label,
                "server": p.server,
                "kind": p.kind,
                "paired_with": p.paired_with,
                "queries": p.queries,
                "best": best_run(p.runs) if p.runs else None,
                "runs": p.runs,
            }
            for p in by_name.values()
        ],
        "memory_mb": memory,
        "db_size_mb": sizes,
        "notifications_user": state.get("notifications_user"),
        "skipped": state["skipped"],
        "failures": failures,
        "elapsed_s": round(time.monotonic() - started_run, 1),
    }
    from bench import report

    results_dir = Path(os.environ.get("BENCH_RESULTS_DIR") or RESULTS).resolve()
    json_path, md_path, chart = report.write_all(result, results_dir)
    log(f"results: {json_path}, {md_path}")
    if chart:
        log(f"chart: {chart}")
    print(md_path.read_text())
    if failures:
        log("FAILED: requests failed:\n  " + "\n  ".join(failures))
        return 1
    log(f"done in {result['elapsed_s']:.0f} s")
    return 0


def clear_baseline_votes(url: str, pairs: list[tuple[str, int]]) -> None:
    """Withdraw the baseline's seeded votes of the measured pairs (through its own API later
    would cost requests; here one statement), keeping its counters exact."""
    from sqlalchemy import create_engine, delete, func, select, update

    from bench.baseline.app import Idea, Vote, hot_score

    engine = create_engine(url)
    wanted = {(int(raw.removeprefix("bt_")), idea) for raw, idea in pairs}
    ideas = {idea for _p, idea in wanted}
    with engine.begin() as conn:
        for person, idea in wanted:
            conn.execute(delete(Vote).where(Vote.person_id == person, Vote.idea_id == idea))
        for idea in ideas:
            count = conn.scalar(select(func.count(Vote.id)).where(Vote.idea_id == idea))
            created = conn.scalar(select(Idea.created_at).where(Idea.id == idea))
            conn.execute(
                update(Idea)
                .where(Idea.id == idea)
                .values(vote_count=count, hot_score=hot_score(count, created))
            )
    engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
