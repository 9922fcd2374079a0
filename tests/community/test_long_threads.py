"""A long conversation on an idea page: its ends first, the middle on request, links still land.

The window is made small (2 branches at each end) so a handful of comments make a long one.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.community import services
from app.community.models import Comment
from app.database import utcnow
from app.extensions import db as _db
from tests.factories import make_idea, make_member

HTMX = {"HX-Request": "true"}
WINDOW = 2


@pytest.fixture(autouse=True)
def small_window(monkeypatch):
    monkeypatch.setattr(services, "THREAD_WINDOW", WINDOW)


def _comment(idea, author, at, parent=None, **fields) -> Comment:
    comment = Comment(
        idea_id=idea.id,
        parent_id=parent.id if parent else None,
        depth=parent.depth + 1 if parent else 0,
        author_id=author.id,
        body=fields.pop("body", "A comment"),
        body_html=f"<p>{fields.pop('html', 'A comment')}</p>",
        created_at=at,
        **fields,
    )
    _db.session.add(comment)
    _db.session.flush()
    idea.comment_count += 1
    return comment


@pytest.fixture
def long_idea(db):
    """An idea with 7 branches (roots r0..r6, each with one reply), oldest first."""
    idea = make_idea(title="A popular lamp")
    author = make_member()
    start = utcnow() - timedelta(days=1)
    roots, replies = [], []
    for n in range(7):
        root = _comment(idea, author, start + timedelta(minutes=10 * n), html=f"root {n}")
        roots.append(root)
        replies.append(
            _comment(idea, author, start + timedelta(minutes=10 * n + 1), root, html=f"reply {n}")
        )
    db.session.commit()
    return idea, roots, replies


def shown_roots(html: str) -> list[int]:
    return [int(n) for n in re.findall(r"<p>root (\d+)</p>", html)]


def more_links(html: str) -> list[str]:
    return [link.replace("&amp;", "&") for link in re.findall(r'hx-get="([^"]*more[^"]*)"', html)]


def test_a_long_conversation_shows_its_ends_and_the_count_of_all(client, long_idea):
    idea, _roots, _replies = long_idea
    html = client.get(f"/ideas/{idea.id}").get_data(as_text=True)

    assert shown_roots(html) == [0, 1, 5, 6]
    assert "reply 0" in html
    assert "reply 6" in html
    assert "reply 3" not in html
    assert "14 comments" in html  # every comment counted, shown or not
    assert html.count("Show more comments") == 1


def test_show_more_loads_the_middle_in_place_until_none_is_left(client, long_idea):
    idea, _roots, _replies = long_idea
    page = client.get(f"/ideas/{idea.id}").get_data(as_text=True)
    [link] = more_links(page)

    first = client.get(link, headers=HTMX)
    assert first.status_code == 200
    assert shown_roots(first.get_data(as_text=True)) == [2, 3]
    assert "reply 2" in first.get_data(as_text=True)
    [link] = more_links(first.get_data(as_text=True))  # one branch is still left

    second = client.get(link, headers=HTMX).get_data(as_text=True)
    assert shown_roots(second) == [4]
    assert more_links(second) == []  # it ends where the shown tail begins


def test_without_htmx_show_more_opens_the_page_at_the_next_branch(client, long_idea):
    idea, roots, _replies = long_idea
    page = client.get(f"/ideas/{idea.id}").get_data(as_text=True)
    [link] = more_links(page)

    response = client.get(link)

    assert response.status_code == 302
    assert response.headers["Location"] == (
        f"/ideas/{idea.id}?comment={roots[2].id}#comment-{roots[2].id}"
    )


def test_a_link_to_a_reply_in_the_middle_shows_its_branch_between_two_gaps(client, long_idea):
    idea, _roots, replies = long_idea
    html = client.get(f"/ideas/{idea.id}?comment={replies[3].id}").get_data(as_text=True)

    assert shown_roots(html) == [0, 1, 3, 5, 6]
    assert f'id="comment-{replies[3].id}"' in html
    assert html.count("Show more comments") == 2
    links = more_links(html)
    after_gap = client.get(links[1], headers=HTMX).get_data(as_text=True)
    assert shown_roots(after_gap) == [4]


@pytest.mark.parametrize("comment", ["999999", "99999999999", "abc", "-4"])
def test_a_link_to_no_such_comment_shows_the_ends(client, long_idea, comment):
    idea, _roots, _replies = long_idea
    response = client.get(f"/ideas/{idea.id}?comment={comment}")
    assert response.status_code == 200
    assert shown_roots(response.get_data(as_text=True)) == [0, 1, 5, 6]


def test_the_official_answer_stays_pinned_when_its_branch_is_in_the_middle(client, long_idea):
    idea, roots, _replies = long_idea
    staff = make_member(roles=("product",))
    _comment(
        idea,
        staff,
        roots[3].created_at + timedelta(seconds=30),
        roots[3],
        by_staff=True,
        is_official=True,
        html="We will make it",
    )
    _db.session.commit()

    html = client.get(f"/ideas/{idea.id}").get_data(as_text=True)

    assert 'id="official-answer"' in html
    assert "We will make it" in html
    assert shown_roots(html) == [0, 1, 3, 5, 6]  # its branch, so "see it" has a place to go


@pytest.mark.parametrize(
    "query", ["", "?after=0", "?after=abc", "?after=5&before=99999999999", "?after=-1"]
)
def test_show_more_with_a_bad_address_is_a_400(client, long_idea, query):
    idea, _roots, _replies = long_idea
    assert client.get(f"/ideas/{idea.id}/comments/more{query}", headers=HTMX).status_code == 400


def test_show_more_of_an_idea_one_cannot_see_is_a_404(client, db):
    hidden = make_idea(status="pending")
    db.session.commit()
    response = client.get(f"/ideas/{hidden.id}/comments/more?after=1", headers=HTMX)
    assert response.status_code == 404


def test_a_new_comment_posted_with_htmx_shows_at_the_end_of_a_long_conversation(
    client, login, long_idea
):
    idea, _roots, replies = long_idea
    login(make_member())
    token = client.csrf_token()

    new = client.post(
        f"/ideas/{idea.id}/comments",
        data={"csrf_token": token, "body": "Count me in"},
        headers=HTMX,
    ).get_data(as_text=True)
    assert "Count me in" in new
    assert shown_roots(new) == [0, 1, 6]  # the last branches: the new one is the last

    reply = client.post(
        f"/ideas/{idea.id}/comments",
        data={"csrf_token": token, "body": "Same here", "parent_id": str(replies[3].parent_id)},
        headers=HTMX,
    ).get_data(as_text=True)
    assert "Same here" in reply  # a reply in the middle: its branch is shown with it
    assert 3 in shown_roots(reply)


def test_a_short_conversation_is_whole_in_one_query(client, db, count_queries):
    idea = make_idea()
    author = make_member()
    for n in range(2 * WINDOW):
        _comment(idea, author, utcnow() + timedelta(seconds=n), html=f"root {n}")
    db.session.commit()

    html = client.get(f"/ideas/{idea.id}").get_data(as_text=True)

    assert shown_roots(html) == [0, 1, 2, 3]
    assert "Show more comments" not in html
