"""Idea cards in lists: read as rows, rendered once per worker and never shown stale."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert

from app.community import services as community
from app.database import utcnow
from app.extensions import db
from app.i18n import ago
from app.ideas import services
from app.ideas.models import Idea, IdeaImage, Tag, idea_tags
from app.links import idea_links
from tests.factories import make_category, make_idea, make_member


def _tag(idea, name: str) -> None:
    tag = Tag(name=name)
    db.session.add(tag)
    db.session.flush()
    db.session.execute(insert(idea_tags).values(idea_id=idea.id, tag_id=tag.id))


def _picture(idea, n: int, position: int) -> None:
    db.session.add(
        IdeaImage(
            idea_id=idea.id,
            path=f"ideas/{idea.id}/{n}.webp",
            content_type="image/webp",
            width=40 + n,
            height=30,
            size=100,
            position=position,
        )
    )


def test_cards_carry_what_the_idea_has(db):
    """Row-built cards hold the same values, in the same order, as the mapped Idea."""
    category = make_category("Kitchen tools")
    idea = make_idea(category_id=category.id, vote_count=3, comment_count=2)
    plain = make_idea()
    for name in ("zinc", "alpha", "mid"):
        _tag(idea, name)
    _picture(idea, 1, position=2)
    _picture(idea, 2, position=0)
    db.session.commit()

    cards = {card.id: card for card in services.list_ideas(viewer=None, sort="new").items}
    card, mapped = cards[idea.id], db.session.get(Idea, idea.id)
    for field in ("title", "body_html", "status", "vote_count", "comment_count", "created_at"):
        assert getattr(card, field) == getattr(mapped, field)
    assert card.author.display_name == mapped.author.display_name
    assert (card.category.name, card.category.slug) == ("Kitchen tools", category.slug)
    assert [tag.name for tag in card.tags] == [tag.name for tag in mapped.tags]
    assert [tag.name for tag in card.tags] == ["alpha", "mid", "zinc"]
    assert [image.path for image in card.images] == [image.path for image in mapped.images]
    assert cards[plain.id].category is None
    assert cards[plain.id].tags == []
    assert cards[plain.id].images == []


def test_a_cached_card_shows_new_support_comments_and_edits(client, db):
    author = make_member()
    idea = make_idea(author, title="Folding bike trailer")
    page = client.get("/ideas").get_data(as_text=True)
    assert f'data-vote-count="{idea.id}">0<' in page
    assert "0 comments" in page

    services.cast_vote(idea.id, voter=make_member())
    community.post_comment(make_member(), body="I would buy two.", idea=idea)
    page = client.get("/ideas").get_data(as_text=True)
    assert f'data-vote-count="{idea.id}">1<' in page
    assert "1 comment" in page

    services.edit_idea(idea, editor=author, title="Folding cargo trailer", body="Now bigger.")
    page = client.get("/ideas").get_data(as_text=True)
    assert "Folding cargo trailer" in page
    assert "Folding bike trailer" not in page
    assert "Now bigger." in page


def test_cards_for_people_signed_in_show_their_own_support(client, db, login):
    idea = make_idea()
    client.get("/ideas")  # cached for people signed out
    voter = make_member()
    services.cast_vote(idea.id, voter=voter)
    login(voter)
    page = client.get("/ideas").get_data(as_text=True)
    assert f"/ideas/{idea.id}/unvote" in page  # their button withdraws, not a login link


def test_a_signed_out_button_returns_to_the_list_it_was_on(client, db):
    idea = make_idea()
    first = client.get("/ideas?sort=top").get_data(as_text=True)
    second = client.get("/ideas?sort=new").get_data(as_text=True)
    assert "next=/ideas?sort%3Dtop" in first.replace("&amp;", "&")
    assert "next=/ideas?sort%3Dnew" in second.replace("&amp;", "&")
    assert f'id="vote-{idea.id}"' in second


def test_the_board_kept_for_people_signed_out_follows_the_minute(client, db, monkeypatch):
    """The whole board is kept rendered for people signed out; relative times on it are at
    most a minute behind."""
    make_idea(title="Solar kettle")
    page = client.get("/ideas").get_data(as_text=True)
    assert ">just now</time>" in page

    later = utcnow() + timedelta(minutes=5, seconds=10)
    monkeypatch.setattr("app.i18n.utcnow", lambda: later)
    monkeypatch.setattr("app.ideas.routes.time.time", lambda: later.timestamp())
    page = client.get("/ideas").get_data(as_text=True)
    assert ">5 minutes ago</time>" in page
    assert ">just now</time>" not in page


def test_the_board_kept_for_people_signed_out_shows_new_categories_and_pages(client, db):
    first = [make_idea(title=f"Board idea {n}") for n in range(30)]
    page = client.get("/ideas").get_data(as_text=True)
    assert "Kitchen tools" not in page
    assert 'rel="next"' not in page
    assert all(f'id="idea-{idea.id}-title"' in page for idea in first)

    older = make_idea(title="A thirty-first idea", created_at=utcnow() - timedelta(days=30))
    page = client.get("/ideas").get_data(as_text=True)
    assert 'rel="next"' in page  # the same thirty cards, and now a second page
    assert f'id="idea-{older.id}-title"' not in page

    make_category("Kitchen tools")
    page = client.get("/ideas").get_data(as_text=True)
    assert '<option value="kitchen-tools">Kitchen tools</option>' in page


def test_the_header_kept_for_people_signed_out_marks_the_page_they_are_on(client, db):
    ideas = client.get("/ideas").get_data(as_text=True)
    challenges = client.get("/challenges").get_data(as_text=True)
    assert 'class="nav-link active" href="/ideas"' in ideas
    assert 'class="nav-link active" href="/challenges"' in challenges
    assert 'class="nav-link active" href="/ideas"' not in challenges


def test_links_follow_the_path_the_site_is_served_under(app):
    with app.test_request_context("/ideas", base_url="http://localhost/community"):
        assert idea_links().page(7) == "/community/ideas/7"
    with app.test_request_context("/ideas"):
        assert idea_links().page(7) == "/ideas/7"


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(seconds=-20), "just now"),
        (timedelta(minutes=-3, seconds=-10), "3 minutes ago"),
        (timedelta(hours=-5), "5 hours ago"),
        (timedelta(days=2, minutes=1), "in 2 days"),
    ],
)
def test_relative_times_read_naturally(app, offset, expected):
    with app.test_request_context("/"):
        assert ago(utcnow() + offset) == expected


def test_reading_signed_out_sets_no_cookie(client, db):
    """No form to show, no session: pages for people signed out carry no CSRF token."""
    make_idea()
    for path in ("/", "/ideas", "/api/v1/ideas"):
        response = client.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers, path


def test_a_search_ranks_among_its_best_matches_without_losing_any(db, monkeypatch):
    """The best matches are ranked first (SEARCH_SLACK beyond the page); ideas hidden from the
    list among them must not cost the page its rows, nor the last page its tail."""
    monkeypatch.setattr(services, "SEARCH_SLACK", 0)
    best = [make_idea(title=f"Kettle kettle kettle {n}", status="pending") for n in range(4)]
    shown = [make_idea(title=f"Kettle lid {n}", body="A kettle.") for n in range(3)]
    first = services.list_ideas(viewer=None, q="kettle", per_page=2)
    second = services.list_ideas(viewer=None, q="kettle", per_page=2, page=2)
    listed = [card.id for card in first.items + second.items]
    assert sorted(listed) == sorted(idea.id for idea in shown)
    assert not {idea.id for idea in best} & set(listed)
    assert first.has_next
    assert not second.has_next
    monkeypatch.setattr(services, "SEARCH_SLACK", 1000)
    everything = services.list_ideas(viewer=None, q="kettle", per_page=10)
    assert [card.id for card in everything.items] == listed


def test_the_list_answers_tags_and_pictures_as_the_idea_does(client, db):
    """A page of ideas reads its tags and pictures with its rows: names sorted, pictures in
    their order, ideas without either answered with empty lists, as each idea's own answer."""
    pictured = make_idea(title="Pictured and tagged")
    _tag(pictured, "zinc")
    _tag(pictured, "amber")
    for n, position in ((1, 2), (2, 0), (3, 1)):
        _picture(pictured, n, position)
    plain = make_idea(title="Nothing attached")
    db.session.commit()

    listed = {item["id"]: item for item in client.get("/api/v1/ideas?sort=new").get_json()["items"]}

    assert listed[pictured.id]["tags"] == ["amber", "zinc"]
    assert [image["width"] for image in listed[pictured.id]["images"]] == [42, 43, 41]
    assert listed[plain.id]["tags"] == []
    assert listed[plain.id]["images"] == []
    for idea in (pictured, plain):
        own = client.get(f"/api/v1/ideas/{idea.id}").get_json()
        assert listed[idea.id] == own


def test_a_list_redrawn_in_place_tells_screen_readers_what_it_shows(client, db):
    make_idea()
    make_idea()
    page = client.get("/ideas?sort=top", headers={"HX-Request": "true", "HX-Target": "idea-list"})
    text = page.get_data(as_text=True)
    assert text.lstrip().startswith('<section id="idea-list"')  # the board alone, no layout
    assert 'hx-swap-oob="innerHTML">2 ideas, sorted by Top.</p>' in text
