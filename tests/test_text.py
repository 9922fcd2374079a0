from __future__ import annotations

from html.parser import HTMLParser

import pytest

from app.text import render_markdown, sanitize


def test_markdown_becomes_html():
    html = render_markdown("# Title\n\nSome **bold** and *soft* text.\n\n- one\n- two")
    assert "<strong>bold</strong>" in html
    assert "<em>soft</em>" in html
    assert "<li>one</li>" in html


EXECUTABLE_TAGS = {
    "script",
    "iframe",
    "svg",
    "math",
    "object",
    "embed",
    "form",
    "style",
    "base",
    "meta",
    "body",
    "details",
}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict]]:
    parser = _Elements()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "[click](JaVaScRiPt:alert(1))",
        "![tracker](https://evil.example/pixel.gif)",
        "<iframe src='https://evil.example'></iframe>",
        "<svg/onload=alert(1)>",
        "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
        "<a href='jav&#x09;ascript:alert(1)'>tab</a>",
        "<a href='&#106;avascript:alert(1)'>entity</a>",
        "[x](&#106;avascript:alert(1))",
        '<img src="/ok.png" onerror="alert(1)">',
        "![x](javascript:alert(1))",
        "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
        "<details open ontoggle=alert(1)>",
        "<body onload=alert(1)>",
        "<object data='javascript:alert(1)'></object>",
        "<embed src='javascript:alert(1)'>",
        "<form action='javascript:alert(1)'><button>go</button></form>",
        "<style>body{background:url(javascript:alert(1))}</style>",
        '<a href="vbscript:msgbox(1)">vb</a>',
        "<base href='javascript:/'>",
        "<meta http-equiv='refresh' content='0;url=javascript:alert(1)'>",
        "<table background='javascript:alert(1)'><tr><td>x</td></tr></table>",
        "[a](<javascript:alert(1)>)",
        "<<script>script>alert(1)<</script>/script>",
        "<scr<script>ipt>alert(1)</scr</script>ipt>",
        "<p style='background:url(javascript:alert(1))'>x</p>",
    ],
)
def test_dangerous_markup_never_survives(source):
    for html in (render_markdown(source), sanitize(source)):
        for tag, attributes in elements(html):
            assert tag not in EXECUTABLE_TAGS, html
            assert not any(name.startswith("on") for name in attributes), html
            for name in ("href", "src", "action", "data", "background", "xlink:href"):
                value = "".join(attributes.get(name, "").lower().split())
                assert not value.startswith(("javascript:", "vbscript:", "data:")), html
            assert "evil.example" not in attributes.get("src", ""), html
            assert "javascript" not in attributes.get("style", ""), html


def test_sanitize_removes_what_markdown_would_never_produce():
    dirty = '<a href="javascript:alert(1)" onclick="x()">a</a><script>b()</script><img src="https://evil.example/p.gif">'
    assert elements(sanitize(dirty)) == [("a", {"rel": "nofollow ugc noopener"}), ("img", {})]


def test_raw_html_is_shown_as_text():
    assert "&lt;b&gt;" in render_markdown("<b>not bold</b>")


def test_links_are_marked_as_user_content():
    html = render_markdown("[our site](https://example.com/)")
    assert 'href="https://example.com/"' in html
    assert 'rel="nofollow ugc noopener"' in html


def test_images_from_this_site_are_kept():
    html = render_markdown("![sketch](/media/ideas/1/sketch.webp)")
    assert '<img src="/media/ideas/1/sketch.webp" alt="sketch">' in html


def test_sanitize_strips_event_handlers_from_allowed_tags():
    assert sanitize('<p onclick="steal()">hi</p>') == "<p>hi</p>"
