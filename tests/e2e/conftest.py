"""Browser fixtures: the real site under gunicorn, driven by Debian's Chromium through Playwright.

pytest-playwright is not used: its fixtures expect a browser that Playwright downloaded, and
these machines cannot download one. ``page`` records console errors, uncaught exceptions,
Content Security Policy violations and error pages (4xx/5xx documents) in ``page_problems``;
tests assert that list is empty.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Response,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy.engine import make_url

from tests.factories import PASSWORD
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  const blocked = event.blockedURI || "inline";
  console.error(`CSP violation: ${event.violatedDirective} blocked ${blocked}`);
});
"""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep the call phase's report on the item, so ``page`` can screenshot a failure."""
    report = yield
    if report.when == "call":
        item.report_call = report  # type: ignore[attr-defined]
    return report


def _in_ci() -> bool:
    return os.environ.get("CI") == "true"


@pytest.fixture(scope="session")
def live_server(app: Flask, artifacts_dir: Path) -> Iterator[str]:
    """The site under gunicorn on the suite's (already migrated) database; yields the base URL.

    The server's output goes to test-artifacts/e2e-server-<database>.log. Rows the browser
    creates are deleted after each test by the autouse ``db`` fixture.
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "e2e-secret-key-not-for-production",
        "RATELIMIT_ENABLED": "false",
        "SOCKETIO_MESSAGE_QUEUE": "",
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_COST": "1024",
        "PASSWORD_HASH_PARALLELISM": "1",
    }
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        *("-w", "1", "--threads", "8", "--no-control-socket"),
        *("-b", f"127.0.0.1:{port}", "wsgi:app"),
    ]
    log_path = artifacts_dir / f"e2e-server-{_dialect(app)}.log"
    # A file, not a pipe: nobody reads a pipe during the tests, and a full one stalls the server.
    # A session of its own: Ctrl+C must reach only pytest, whose teardown stops the server
    # gracefully (a worker hit by SIGINT directly can hang on its threads).
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_healthy(base_url, server, log_path)
            yield base_url
        finally:
            _stop(server)


def _stop(server: subprocess.Popen) -> None:
    """Stop gunicorn and its workers: gracefully, then by force, so nothing outlives the tests."""
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # a worker left behind


def _wait_until_healthy(base_url: str, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{base_url}/healthz did not answer 200 within 30 s; see {log_path}")


def _dialect(app: Flask) -> str:
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        message = "chromium is not installed (scripts/ensure-system-deps.sh installs it)"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page_problems() -> list[str]:
    """Console errors, page errors, CSP violations and error pages seen by ``page``, in order."""
    return []


@pytest.fixture
def page(
    browser: Browser,
    live_server: str,
    page_problems: list[str],
    artifacts_dir: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    # Chromium logs CSP violations, failed loads (a missing vendor file) and script errors to
    # the console; this listener also reports violations that the console might word
    # differently (report-only policies, for one).
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            page_problems.append(f"console {message.type} on {page.url}: {message.text}")

    def on_response(response: Response) -> None:
        if response.request.resource_type == "document" and response.status >= 400:
            page_problems.append(f"{response.status} for {response.request.method} {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda error: page_problems.append(f"page error on {page.url}: {error}"))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        with contextlib.suppress(PlaywrightError):
            path = artifacts_dir / f"{name}-{_dialect(request.getfixturevalue('app'))}-FAILED.png"
            page.screenshot(path=str(path), full_page=True)
    context.close()


@pytest.fixture
def screenshot(
    page: Page, artifacts_dir: Path, request: pytest.FixtureRequest, app: Flask
) -> Callable:
    """``screenshot("step")`` saves a full-page PNG in test-artifacts/, named after the test,
    the database of this pass and the step, so both passes keep their pictures."""
    dialect = _dialect(app)
    test_name = re.sub(r"[^\w.-]+", "_", request.node.name)
    counter = iter(range(1, 100))

    def _take(step: str) -> Path:
        path = artifacts_dir / f"{test_name}-{dialect}-{next(counter):02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _take


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the login page, as a person would."""
    page.goto("/login")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
