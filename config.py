"""Cocreate settings, read from the environment.

Every setting has a safe default for a developer's machine. Production (``COCREATE_ENV=production``)
refuses to start without a real ``SECRET_KEY`` and sends cookies only over HTTPS.
"""

from __future__ import annotations

import os
from datetime import timedelta


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


class Config:
    ENV = os.environ.get("COCREATE_ENV", "development")
    SITE_NAME = os.environ.get("SITE_NAME", "Cocreate")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    # Where the site is reached; links in mail sent outside a request (CLI, jobs) start here.
    # None: http://127.0.0.1:5000 in development; production refuses to start without it.
    SITE_URL = os.environ.get("SITE_URL") or None

    # None means: generate one on first start and keep it in the instance folder (development
    # only; production refuses to start without one).
    SECRET_KEY = os.environ.get("SECRET_KEY") or None

    # None means: an SQLite file in the instance folder (resolved by create_app).
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SQLITE_BUSY_TIMEOUT_MS = _env_int("SQLITE_BUSY_TIMEOUT_MS", 10_000)
    # Set on each PostgreSQL connection: index lookups priced for data read from memory or SSD
    # (PostgreSQL's own advice for such data). Empty: keep the server's setting.
    POSTGRES_RANDOM_PAGE_COST = os.environ.get("POSTGRES_RANDOM_PAGE_COST", "1.1")

    # Live updates: several processes share one Redis queue (see README, "Running in production").
    SOCKETIO_MESSAGE_QUEUE = os.environ.get("SOCKETIO_MESSAGE_QUEUE") or None
    # Socket.IO messages on Redis are shared by every database number: name the channel so two
    # sites (or test runs) on one Redis never see each other's events.
    SOCKETIO_CHANNEL = os.environ.get("SOCKETIO_CHANNEL", "cocreate")

    # Rate limits are counted per client address; memory:// is per process, so several workers
    # should share redis://.
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "cocreate")
    RATELIMIT_HEADERS_ENABLED = True
    # Rendered fragments (idea cards) kept in each worker's memory: at most this many, each for
    # at most this many seconds. Keys name everything a fragment shows, so nothing goes stale.
    CACHE_TYPE = "SimpleCache"
    CACHE_THRESHOLD = int(os.environ.get("FRAGMENT_CACHE_SIZE", "5000"))
    CACHE_DEFAULT_TIMEOUT = 600
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour")
    SIGNUP_RATE_LIMIT = os.environ.get("SIGNUP_RATE_LIMIT", "10 per hour")
    RESET_RATE_LIMIT = os.environ.get("RESET_RATE_LIMIT", "5 per 15 minutes")
    # How many reverse proxies in front of the site append to X-Forwarded-For. 0 (the default)
    # means the client address is the socket's: a forged header changes nothing.
    TRUSTED_PROXIES = _env_int("TRUSTED_PROXIES", 0)

    # Mail: with no MAIL_SERVER set, mail is kept in the outbox table and written to the log.
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = _env_int("MAIL_PORT", 587)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", True)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Cocreate <no-reply@localhost>")

    # Argon2id, RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes).
    PASSWORD_HASH_TIME_COST = _env_int("PASSWORD_HASH_TIME_COST", 3)
    PASSWORD_HASH_MEMORY_COST = _env_int("PASSWORD_HASH_MEMORY_COST", 65_536)
    PASSWORD_HASH_PARALLELISM = _env_int("PASSWORD_HASH_PARALLELISM", 4)
    PASSWORD_MIN_LENGTH = 10
    EMAIL_TOKEN_MAX_AGE = timedelta(days=3)
    RESET_TOKEN_MAX_AGE = timedelta(hours=1)

    # Cookies: HttpOnly, SameSite=Lax, and Secure unless explicitly served over plain HTTP.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", ENV == "production")
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_DURATION = timedelta(days=30)
    PERMANENT_SESSION_LIFETIME = timedelta(days=14)
    PREFERRED_URL_SCHEME = "https" if SESSION_COOKIE_SECURE else "http"

    # Uploads (ideas, avatars) are bounded here; JSON API bodies get a tighter limit.
    MAX_CONTENT_LENGTH = 25 * 1024 * 1024
    API_MAX_CONTENT_LENGTH = 1024 * 1024

    WTF_CSRF_TIME_LIMIT = None  # tied to the session instead of a clock

    # Ideas: pre-moderation puts new ideas in "pending" until a moderator approves them.
    IDEAS_PREMODERATION = _env_bool("IDEAS_PREMODERATION", False)
    IDEA_MILESTONES = tuple(int(n) for n in _env_list("IDEA_MILESTONES", "10,50,100,250,500,1000"))
    IDEA_REVIEW_THRESHOLD = _env_int("IDEA_REVIEW_THRESHOLD", 100)
    # Rewards: lifetime points where each level starts, the level each ability needs
    # ("ability:level,…"), and how many cents of confirmed pre-order revenue make a royalty point.
    REWARD_LEVELS = tuple(int(n) for n in _env_list("REWARD_LEVELS", "0,100,500,2000,5000"))
    REWARD_LEVEL_ABILITIES = {
        name: int(level)
        for name, level in (
            pair.split(":", 1)
            for pair in _env_list("REWARD_LEVEL_ABILITIES", "skip_premoderation:2")
        )
    }
    REWARD_ROYALTY_CENTS_PER_POINT = _env_int("REWARD_ROYALTY_CENTS_PER_POINT", 100)
    # The first this many backers of an offering earn the "Early backer" badge.
    REWARD_EARLY_BACKERS = _env_int("REWARD_EARLY_BACKERS", 10)
    # Uploaded images live here, outside the code tree (None: instance/media).
    MEDIA_ROOT = os.environ.get("MEDIA_ROOT") or None

    LANGUAGES = _env_list("LANGUAGES", "en")
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"

    API_TITLE = "Cocreate API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"

    # Set by the benchmark: count SQL statements per request into a response header.
    COUNT_QUERIES = _env_bool("COUNT_QUERIES", False)


class TestConfig(Config):
    TESTING = True
    SITE_URL = "http://127.0.0.1:5000"
    ENV = "testing"
    SECRET_KEY = "test-secret-key-not-for-production"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or None
    SERVER_NAME = None
    RATELIMIT_STORAGE_URI = "memory://"
    MAIL_SERVER = None
    # Cheap hashes keep the suite fast; the algorithm and the code paths are the real ones.
    PASSWORD_HASH_TIME_COST = 1
    PASSWORD_HASH_MEMORY_COST = 1024
    PASSWORD_HASH_PARALLELISM = 1
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
