"""Links to many items of one kind for the cost of one url_for.

Lists build the same few URLs for every item (an idea's page, its tags, its picture, its support
button). ``url_for`` walks the URL map each time; here it runs once per endpoint (and script root),
with a placeholder, and items fill the placeholder in, quoted as werkzeug would quote them.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, quote_plus

from flask import current_app, has_request_context, request, url_for

# What werkzeug leaves unquoted: in a path segment (BaseConverter.to_url; the int converter
# gives digits only), and in a query string value (werkzeug.urls._urlencode).
_PATH_SAFE = "!$&'()*+,/:;=@"
_QUERY_SAFE = "!$'()*,/:;?@"
_PLACEHOLDER = "cc-link-placeholder"
_INT_PLACEHOLDER = 918_273_645


def link(endpoint: str, key: str, *, number: bool = False, **fixed: Any) -> Callable[[Any], str]:
    """``build(value)`` → ``url_for(endpoint, **fixed, **{key: value})``.

    ``number``: the variable is an int route variable. Otherwise it may be a route variable or,
    when the rule has none of that name, a query argument: it is quoted accordingly.
    """
    placeholder = _INT_PLACEHOLDER if number else _PLACEHOLDER
    url = url_for(endpoint, **fixed, **{key: placeholder})
    prefix, suffix = url.split(str(placeholder))  # one occurrence: a ValueError otherwise
    if number:
        return lambda value: f"{prefix}{int(value)}{suffix}"
    if "?" in prefix:
        # url_for leaves out a query argument that is None.
        bare = url_for(endpoint, **fixed)
        return lambda value: (
            bare if value is None else f"{prefix}{quote_plus(str(value), safe=_QUERY_SAFE)}{suffix}"
        )
    return lambda value: f"{prefix}{quote(str(value), safe=_PATH_SAFE)}{suffix}"


def idea_links() -> SimpleNamespace:
    """The links of idea cards and answers.

    Built once per process and script root (the path prefix the site is served under: the one
    part of a path-only URL that can differ between requests), and kept on the request.
    """
    if not has_request_context():
        return _built(None)
    current = request._get_current_object()
    links = getattr(current, "_cc_idea_links", None)
    if links is None:
        links = current._cc_idea_links = _built(current.script_root)
    return links


def _built(root: str | None) -> SimpleNamespace:
    built = current_app.extensions.setdefault("cocreate_idea_links", {})
    links = built.get(root)
    if links is None:
        links = built[root] = SimpleNamespace(
            page=link("ideas.detail", "idea_id", number=True),
            media=link("ideas.media", "path"),
            tag=link("ideas.index", "tag"),
            category=link("ideas.index", "category"),
            vote=link("ideas.vote", "idea_id", number=True, action="vote"),
            unvote=link("ideas.vote", "idea_id", number=True, action="unvote"),
            login=link("accounts.login", "next"),
        )
    return links
