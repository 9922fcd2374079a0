"""The JSON API under /api/v1: authentication, request rules and the OpenAPI description.

Each feature keeps its JSON views in its own ``api.py`` (a flask-smorest blueprint) and
registers it here, so every route is described in /api/v1/openapi.json.
"""

from __future__ import annotations

from flask import Flask, abort, current_app, g, request
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _prepare_api_request() -> None:
    if not request.path.startswith("/api/"):
        return
    from app.accounts.services import user_for_api_token
    from app.extensions import csrf

    header = request.headers.get("Authorization")
    if header:
        scheme, _sep, raw = header.partition(" ")
        use = user_for_api_token(raw.strip()) if scheme.lower() == "bearer" else None
        if use is None:
            abort(401, description="The API token is missing, malformed, revoked or unknown.")
        if use.needs_recording:
            g.api_token_to_record = use.token_id
        # Flask-Login's own way of setting the request's user, without touching the session.
        current_app.login_manager._update_request_context_with_user(use.user)
    elif request.method not in SAFE_METHODS and current_user.is_authenticated:
        # A browser session is a cookie, so it needs the CSRF header an attacker cannot send.
        csrf.protect()
    if request.method in {"POST", "PUT", "PATCH"} and _has_body() and not request.is_json:
        abort(415)


def _record_token_use(exc: BaseException | None) -> None:
    token_id = g.pop("api_token_to_record", None)
    if token_id is None:
        return
    from app.accounts.services import record_api_token_use
    from app.extensions import db

    db.session.close()  # the request is over; release its transaction (and any SQLite lock)
    try:
        record_api_token_use(token_id)
    except SQLAlchemyError:  # bookkeeping only: never fail a finished request over it
        current_app.logger.warning("Could not record the use of API token %s", token_id)


def _has_body() -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def _add_security_scheme() -> None:
    from app.extensions import api

    api.spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "A token from POST /api/v1/tokens."},
    )
    api.spec.components.security_scheme(
        "sessionCookie", {"type": "apiKey", "in": "cookie", "name": "session"}
    )


def init_app(app: Flask) -> None:
    from app.extensions import api, csrf

    api.init_app(
        app,
        spec_kwargs={
            "info": {
                "description": (
                    "Cocreate's JSON API. Authenticate with `Authorization: Bearer <token>` "
                    "(see POST /tokens) or a browser session plus an X-CSRFToken header. Every "
                    'error answers `{"error": {"code", "message", "fields"}}`.'
                )
            },
            "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        },
    )
    _add_security_scheme()
    app.before_request(_prepare_api_request)
    app.teardown_request(_record_token_use)

    from app.accounts.api import blp as accounts_api
    from app.community.api import blp as community_api
    from app.ideas.api import blp as ideas_api
    from app.rewards.api import blp as rewards_api

    for blueprint in (accounts_api, ideas_api, community_api, rewards_api):
        csrf.exempt(blueprint)  # checked in _prepare_api_request for cookie-authenticated calls
        api.register_blueprint(blueprint)
