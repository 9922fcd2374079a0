"""Text from people: markdown rendered to HTML, then sanitised. The whole site uses these two.

The design card names bleach; its authors no longer maintain it (no more security fixes), so
``sanitize`` uses nh3, its maintained successor (Rust's ammonia).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "em", "h2", "h3", "h4", "hr", "img", "li",
        "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"style"},
    "td": {"style"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc noopener"

# Raw HTML in the source is shown as text, never passed through.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable(["table", "strikethrough"])


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        # Only images served by this site: a third-party image would tell its host who reads.
        parts = urlsplit(value)
        return value if not parts.scheme and not parts.netloc and value.startswith("/") else None
    if attribute == "style":  # markdown-it aligns table cells with style; keep only that
        return (
            value if value in {"text-align:left", "text-align:center", "text-align:right"} else None
        )
    return value


def sanitize(html: str) -> str:
    """Keep only safe markup: no script, no event handlers, no javascript: links."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        attribute_filter=_filter_attribute,
        strip_comments=True,
    )


def render_markdown(source: str) -> Markup:
    """Markdown from a person, as HTML that is safe to put in a page."""
    return Markup(sanitize(_markdown.render(source or "")))
