"""Translations and dates in templates, looked up once per request instead of once per string.

A list page asks for about two hundred strings and sixty dates. Flask-Babel finds the request's
translations anew for each (its context, the locale, the catalog cache): a tenth of the page's
time. Here the templates' ``gettext`` family and date helpers keep what they found on Flask-Babel's
own per-request state, tagged with the locale object it was found for, so ``force_locale`` (which
swaps that object) still switches language at once.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import flask_babel
from babel import dates
from flask import Flask
from flask_babel import gettext

from app.database import utcnow


def _state():
    """Flask-Babel's per-request namespace (None outside an app context)."""
    return flask_babel._get_current_context()


def _kept(name: str, make):
    """``make()``, kept on Flask-Babel's per-request state with the locale it was made for."""
    state = _state()
    if state is None:
        return make()
    locale = getattr(state, "babel_locale", None)
    found = getattr(state, name, None)
    if found is None or locale is None or found[0] is not locale:
        value = make()  # finds the locale first, when it was not known yet
        found = (state.babel_locale, value)
        setattr(state, name, found)
    return found[1]


def translations():
    """``flask_babel.get_translations()``, found once per request and locale."""
    return _kept("cocreate_translations", flask_babel.get_translations)


def _locale_and_zone():
    return _kept("cocreate_zone", lambda: (flask_babel.get_locale(), flask_babel.get_timezone()))


def datetimeformat(moment: datetime, format: str = "medium") -> str:
    """Flask-Babel's ``datetimeformat`` filter: ``moment`` in the reader's language and zone."""
    locale, zone = _locale_and_zone()
    return dates.format_datetime(moment, format, tzinfo=zone, locale=locale)


def ago(moment: datetime) -> str:
    """``moment`` relative to now in the reader's language: "5 hours ago", "in 3 days", "just
    now" within a minute. Babel's own filter subtracts from a naive utcnow(), which fails on our
    aware datetimes."""
    seconds = (moment - utcnow()).total_seconds()
    if abs(seconds) < 60:
        return gettext("just now")
    locale, _zone = _locale_and_zone()
    return _ago_text(locale, round(seconds / 60))


@functools.lru_cache(maxsize=4096)
def _ago_text(locale, minutes: int) -> str:
    # Shown to the minute, so the same for every moment in that minute: a page of cards from the
    # same hours formats each distinct minute once per process.
    return dates.format_timedelta(
        timedelta(minutes=minutes), granularity="minute", add_direction=True, locale=locale
    )


def init_app(app: Flask) -> None:
    """Replace Flask-Babel's template callables (call after ``babel.init_app``)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.filters["datetimeformat"] = datetimeformat
