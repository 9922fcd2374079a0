"""Cocreate: the application factory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from app import querycount
from config import Config


def create_app(config_class: type[Config] = Config) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(config_class)
    app.logger.setLevel(app.config["LOG_LEVEL"])  # INFO: mail kept in the outbox is shown
    _resolve_instance_settings(app)
    register_extensions(app)
    querycount.init_app(app)  # X-Query-Count when COUNT_QUERIES (make bench)
    register_features(app)
    register_errors(app)
    register_templates(app)
    return app


def _resolve_instance_settings(app: Flask) -> None:
    """Fill in the defaults that live in the instance folder: the SQLite file, the secret key."""
    instance = Path(app.instance_path)
    if not app.config.get("SECRET_KEY"):
        if app.config["ENV"] == "production":
            raise RuntimeError(
                "SECRET_KEY is not set. Production needs a long random secret, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        app.config["SECRET_KEY"] = _development_secret(instance / "secret_key")
    if not app.config.get("SITE_URL"):
        if app.config["ENV"] == "production":
            raise RuntimeError(
                "SITE_URL is not set. Production needs the site's public address, e.g. "
                "https://cocreate.example.com: every link in mail is built on it."
            )
        app.config["SITE_URL"] = "http://127.0.0.1:5000"
    if not app.config.get("MEDIA_ROOT"):
        app.config["MEDIA_ROOT"] = str(instance / "media")
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        instance.mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'cocreate.sqlite3'}"


def _development_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


def register_extensions(app: Flask) -> None:
    from app import i18n, web
    from app.database import configure_postgres, configure_sqlite
    from app.extensions import babel, cache, csrf, db, limiter, migrate, socketio

    configure_sqlite(app.config["SQLITE_BUSY_TIMEOUT_MS"])
    configure_postgres(app.config["POSTGRES_RANDOM_PAGE_COST"])
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    csrf.init_app(app)
    web.init_app(app)  # before anything else queries: it decides how transactions begin
    limiter.init_app(app)
    babel.init_app(app, locale_selector=web.select_locale)
    cache.init_app(app)
    i18n.init_app(app)
    socketio.init_app(
        app,
        message_queue=app.config["SOCKETIO_MESSAGE_QUEUE"],
        channel=app.config["SOCKETIO_CHANNEL"],
        async_mode="threading",
        # None: only the site's own origin may open a connection.
        cors_allowed_origins=None,
    )


def register_features(app: Flask) -> None:
    from app import accounts, api, community, demo, ideas, main, rewards
    from app.community import models as _community_models  # noqa: F401
    from app.mail import models as _mail_models  # noqa: F401  (the outbox table)
    from app.rewards import models as _rewards_models  # noqa: F401

    main.init_app(app)
    accounts.init_app(app)
    ideas.init_app(app)
    community.init_app(app)
    rewards.init_app(app)
    api.init_app(app)
    # After the API has set the request's user from its token.
    from app.accounts.permissions import refuse_contributions_while_suspended, suspension_message

    app.before_request(refuse_contributions_while_suspended)
    app.add_template_global(suspension_message)
    demo.init_app(app)
    from app.mail import cli as mail_cli

    app.cli.add_command(mail_cli.mail)


def register_errors(app: Flask) -> None:
    from app.errors import register_error_handlers

    register_error_handlers(app)


def register_templates(app: Flask) -> None:
    from flask import has_request_context, request
    from flask_babel import get_locale

    from app import i18n
    from app.accounts.forms import LazyActionForm
    from app.accounts.permissions import (
        can_manage_categories,
        can_manage_roles,
        can_moderate,
        is_product_team,
        is_staff,
    )
    from app.ideas.workflow import MERGEABLE, STATUS_LABELS, VOTABLE
    from app.web import panels, text_direction

    @app.context_processor
    def _layout() -> dict:
        locale = str(get_locale() or app.config["BABEL_DEFAULT_LOCALE"])
        return {
            "html_lang": locale.replace("_", "-"),
            "html_dir": text_direction(locale),
            "site_name": app.config["SITE_NAME"],
            # Templates also render outside requests (live updates from jobs): no form there.
            # Pages only: a form in an API answer's context would set a session cookie.
            "nav_form": LazyActionForm()
            if has_request_context() and not request.path.startswith("/api/")
            else None,
            "can_manage_roles": can_manage_roles,
            "can_moderate": can_moderate,
            "is_product_team": is_product_team,
            "can_manage_categories": can_manage_categories,
            "is_staff": is_staff,
            "panels": panels,
            "ago": i18n.ago,
            # Ideas' status names, where the support button is live, what may be merged away.
            "status_labels": STATUS_LABELS,
            "votable_statuses": VOTABLE,
            "mergeable_statuses": MERGEABLE,
        }
