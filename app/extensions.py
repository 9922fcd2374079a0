"""The shared extension objects, created unbound; ``create_app`` binds them."""

from __future__ import annotations

from flask_babel import Babel
from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from app.api.errors import ErrorSchema
from app.database import include_in_migrations, render_migration_type

# Stable constraint names, so Alembic can alter them (SQLite batch mode needs names to drop).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class _Api(Api):
    ERROR_SCHEMA = ErrorSchema  # documents our envelope as every operation's error answer

    def _register_error_handlers(self) -> None:
        # app.errors answers every error, JSON for the API and HTML for pages; flask-smorest's
        # handler would answer JSON everywhere.
        pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate(
    render_as_batch=True,
    compare_type=True,
    render_item=render_migration_type,
    include_object=include_in_migrations,
)
login_manager = LoginManager()
csrf = CSRFProtect()
# get_remote_address reads the socket address, which ProxyFix only rewrites when TRUSTED_PROXIES
# says how many proxies to believe.
limiter = Limiter(key_func=get_remote_address)
babel = Babel()
# Per-process fragments of pages (idea cards); keys name everything a fragment shows.
cache = Cache()
socketio = SocketIO()
api = _Api()
