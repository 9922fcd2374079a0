"""Request plumbing shared by every page: write intent, security headers, locale."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import date, time
from decimal import Decimal
from urllib.parse import urlsplit
from uuid import UUID

import orjson
from flask import Flask, current_app, has_request_context, request, url_for
from flask.json.provider import JSONProvider
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from app.database import clear_write_intent, end_read_transaction, mark_write_intent
from app.extensions import db

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "ckb", "yi"})

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class OrjsonProvider(JSONProvider):
    """Every JSON answer, written by orjson: a page of 30 ideas in 0.02 ms instead of 0.15.

    Keys stay sorted and pretty-printed in debug, as Flask's own provider does; what orjson does
    not know (lazy translations, Decimal) becomes its text.
    """

    def _options(self) -> int:
        options = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
        return options | orjson.OPT_INDENT_2 if self._app.debug else options

    @staticmethod
    def _default(value):
        if hasattr(value, "__html__"):
            return str(value.__html__())
        if isinstance(value, Decimal | UUID):
            return str(value)
        if isinstance(value, date | time):  # the standard library's fallback, below
            return value.isoformat()
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.asdict(value)
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    def _encode(self, obj) -> bytes:
        try:
            return orjson.dumps(obj, default=self._default, option=self._options())
        except TypeError:
            # What orjson refuses and the standard library writes: integers beyond 64 bits
            # (a request body in a test, echoed input).
            text = json.dumps(
                obj, default=self._default, sort_keys=True, indent=2 if self._app.debug else None
            )
            return text.encode()

    def dumps(self, obj, **kwargs) -> str:
        return self._encode(obj).decode()

    def loads(self, s: str | bytes, **kwargs):
        return orjson.loads(s)

    def response(self, *args, **kwargs):
        body = self._encode(self._prepare_response_obj(args, kwargs))
        return self._app.response_class(body, mimetype="application/json")


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route: ids fit the database's INTEGER, so 2**40 is a plain 404."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def writes_on_get(view: Callable) -> Callable:
    """Mark a GET view that writes (e.g. an e-mail confirmation link): it takes the write lock."""
    view.writes_on_get = True  # type: ignore[attr-defined]
    return view


def _begin_request() -> None:
    if request.path.startswith("/api/"):
        # Before anything reads the body: JSON calls never need the uploads' allowance.
        request.max_content_length = current_app.config["API_MAX_CONTENT_LENGTH"]
    view = current_app.view_functions.get(request.endpoint or "")
    if request.method not in SAFE_METHODS or getattr(view, "writes_on_get", False):
        mark_write_intent()
    else:
        clear_write_intent()


def _end_request(exc: BaseException | None) -> None:
    try:
        if exc is None:
            end_read_transaction(db.session())
    finally:
        # The next work on this thread (a pooled gunicorn thread, a test) starts without it.
        clear_write_intent()


def _contains_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def _refuse_nul_characters() -> None:
    """Text never contains NUL; PostgreSQL cannot store it, so it is refused at the door."""
    from flask_babel import gettext as _

    from app.errors import ValidationFailed

    query = request.query_string
    if request.method in ("GET", "HEAD") and b"%00" not in query and b"\x00" not in query:
        return  # the common case, without parsing the query string
    found = [name for name, value in request.args.items(multi=True) if "\x00" in value]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        found += [name for name, value in request.form.items(multi=True) if "\x00" in value]
    elif request.is_json and _contains_nul(request.get_json(silent=True)):
        found.append("body")
    if found:
        message = _("Text cannot contain NUL characters.")
        raise ValidationFailed(
            message, code="invalid_characters", fields={name: [message] for name in found}
        )


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    # Pages and API answers can carry personal data and CSRF tokens: never store them.
    # Static files keep their own caching.
    if request.endpoint != "static" and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    return response


def path_for(endpoint: str, **values) -> str:
    """A site-relative link that also works outside a request (CLI commands, jobs)."""
    if has_request_context():
        return url_for(endpoint, **values)
    site = urlsplit(current_app.config["SITE_URL"])
    adapter = current_app.url_map.bind(site.netloc, script_name=site.path or "/")
    return adapter.build(endpoint, values)


def external_url(endpoint: str, **values) -> str:
    """An absolute link for mail, always on SITE_URL: a request's Host header is the client's
    to choose, and a reset link pointing at another site would hand it the token."""
    site = urlsplit(current_app.config["SITE_URL"])
    adapter = current_app.url_map.bind(
        site.netloc, script_name=site.path or "/", url_scheme=site.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def safe_next(default: str) -> str:
    """The ``next`` a form or link asks for, if it stays on this site; else ``default``."""
    target = (request.args.get("next") or request.form.get("next") or "").strip()
    # Browsers ignore tabs and newlines in URLs ("/\t/evil.example" is "//evil.example").
    cleaned = "".join(ch for ch in target if ch not in "\t\r\n")
    parts = urlsplit(cleaned)
    if cleaned.startswith("/") and not cleaned.startswith(("//", "/\\")) and not parts.netloc:
        return cleaned
    return default


def show_form_errors(form, error, *, aliases: dict[str, str] | None = None) -> int:
    """Put a service's DomainError on a form (on its fields when it names them); its status.

    ``aliases`` maps the service's field names to the form's (``category`` → ``category_id``).
    """
    placed = False
    for name, messages in error.fields.items():
        field = getattr(form, (aliases or {}).get(name, name), None)
        if field is not None:
            field.errors = [*field.errors, *messages]
            placed = True
    if not placed:
        form.form_errors.append(error.message)
    return error.status


def register_panel(app: Flask, slot: str, template: str) -> None:
    """Let a feature add a section to another feature's page without either importing the other.

    The page renders ``{% for panel in panels("idea") %}{% include panel %}{% endfor %}``.
    """
    app.extensions.setdefault("cocreate_panels", {}).setdefault(slot, []).append(template)


def panels(slot: str) -> list[str]:
    return current_app.extensions.get("cocreate_panels", {}).get(slot, [])


def text_direction(locale: str) -> str:
    return "rtl" if locale.split("_")[0].split("-")[0] in RTL_LANGUAGES else "ltr"


def select_locale() -> str:
    supported = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    user_locale = getattr(current_user, "locale", None) if current_user else None
    if user_locale in supported:
        return user_locale
    return request.accept_languages.best_match(supported) or supported[0]


def init_app(app: Flask) -> None:
    app.json = OrjsonProvider(app)
    app.url_map.converters["int"] = IdConverter  # before any route is added
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # Only the client address and scheme come from the proxies; links in mail use SITE_URL.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies
        )
    app.before_request(_begin_request)
    app.teardown_request(_end_request)
    app.before_request(_refuse_nul_characters)
    app.after_request(_security_headers)
