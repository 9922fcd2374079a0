from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.ideas.models import Idea
from tests.factories import make_category, make_idea, make_member


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def test_sharing_an_idea_from_the_form(client, db, login):
    login(make_member())
    kitchen = make_category("Kitchen")
    response = client.post_form(
        "/ideas/new",
        {
            "title": "Quiet kettle",
            "body": "Whistles *softly*.",
            "category_id": str(kitchen.id),
            "tags": "kitchen, quiet",
            "images": (io.BytesIO(png()), "kettle.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    idea = db.session.scalar(select(Idea))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Quiet kettle" in page
    assert "<em>softly</em>" in page
    assert f"/media/{idea.images[0].path}" in page


def test_a_bad_form_keeps_what_was_typed_and_says_why(client, db, login):
    login(make_member())
    response = client.post_form("/ideas/new", {"title": "Tiny", "body": "Keep this text"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Keep this text" in page
    assert "Field must be between 5 and 140 characters long." in page
    assert db.session.scalar(select(func.count()).select_from(Idea)) == 0


def test_a_renamed_text_file_is_refused_inline(client, db, login):
    login(make_member())
    response = client.post_form(
        "/ideas/new",
        {
            "title": "Idea with a fake photo",
            "body": "x",
            "images": (io.BytesIO(b"just text, honestly"), "photo.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "PNG, JPEG or WebP" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Idea)) == 0


def test_the_idea_page_loads_its_look_alikes_beside_it(client, db):
    make_idea(title="Solar lantern for camping")
    idea = make_idea(title="Solar lamp for balconies")
    page = client.get(f"/ideas/{idea.id}").get_data(as_text=True)
    assert f'hx-get="/ideas/{idea.id}/similar" hx-trigger="load"' in page
    fragment = client.get(f"/ideas/{idea.id}/similar").get_data(as_text=True)
    assert "Looks similar" in fragment
    assert "Solar lantern for camping" in fragment
    assert "Solar lamp for balconies" not in fragment


def test_an_idea_without_look_alikes_gets_an_empty_fragment(client, db):
    idea = make_idea(title="Quiet kettle for night owls")
    assert client.get(f"/ideas/{idea.id}/similar").get_data(as_text=True).strip() == ""


def test_nobody_else_sees_the_look_alikes_of_a_pending_idea(client, db):
    idea = make_idea(title="Solar lamp awaiting moderation", status="pending")
    assert client.get(f"/ideas/{idea.id}/similar").status_code == 404


def test_similar_hint_while_typing(client, db):
    make_idea(title="Foldable electric scooter")
    fragment = client.get("/ideas/similar?title=scooter").get_data(as_text=True)
    assert "Foldable electric scooter" in fragment
    assert client.get("/ideas/similar?title=zz").get_data(as_text=True).strip() == ""


def test_voting_from_the_list_over_htmx_returns_the_new_button(client, db, login):
    idea = make_idea()
    login(make_member())
    response = client.post_form(f"/ideas/{idea.id}/vote", headers={"HX-Request": "true"})
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert f'id="vote-{idea.id}"' in fragment
    assert f'data-vote-count="{idea.id}">1<' in fragment
    assert f"/ideas/{idea.id}/unvote" in fragment


def test_voting_without_javascript_redirects_back(client, db, login):
    idea = make_idea()
    login(make_member())
    response = client.post_form(f"/ideas/{idea.id}/vote", {"next": "/ideas?sort=top"})
    assert response.headers["Location"] == "/ideas?sort=top"
    db.session.refresh(idea)
    assert idea.vote_count == 1


def test_others_cannot_open_the_edit_page(client, db, login):
    idea = make_idea()
    login(make_member())
    assert client.get(f"/ideas/{idea.id}/edit").status_code == 403


def test_author_edits_through_the_form(client, db, login):
    author = make_member()
    idea = make_idea(author, title="First title here")
    login(author)
    assert client.get(f"/ideas/{idea.id}/edit").status_code == 200
    response = client.post_form(
        f"/ideas/{idea.id}/edit", {"title": "Better title here", "body": "Better body"}
    )
    assert response.status_code == 302
    db.session.refresh(idea)
    assert idea.title == "Better title here"
    assert "First title here" in client.get(f"/ideas/{idea.id}/history").get_data(as_text=True)


@pytest.mark.parametrize("signed_in", [False, True])
def test_board_page_costs_the_same_queries_for_one_or_thirty(
    client, db, login, count_queries, signed_in
):
    if signed_in:
        login(make_member())
    make_idea()
    client.get("/ideas")
    with count_queries() as one:
        assert client.get("/ideas").status_code == 200
    kitchen = make_category("Kitchen")
    for n in range(29):
        make_idea(category_id=kitchen.id if n % 2 else None)
    with count_queries() as thirty:
        assert client.get("/ideas").status_code == 200
    assert one() == thirty()


def test_idea_page_costs_the_same_queries_with_many_comments(client, db, count_queries):
    from app.community import services as community

    idea = make_idea()
    community.post_comment(make_member(), idea=idea, body="First")
    with count_queries() as few:
        assert client.get(f"/ideas/{idea.id}").status_code == 200
    for n in range(20):
        community.post_comment(make_member(), idea=idea, body=f"Comment {n}")
    with count_queries() as many:
        assert client.get(f"/ideas/{idea.id}").status_code == 200
    assert few() == many()


@pytest.mark.parametrize(
    "path",
    [
        "/ideas?page=99999999999999999999",
        "/ideas?challenge=99999999999999999999",
        "/ideas?challenge=3000000000",
        "/admin/users?page=99999999999999999999",
    ],
)
def test_huge_numbers_in_the_address_are_not_server_errors(client, db, login, path):
    login(make_member(roles=("admin",)))
    assert client.get(path).status_code < 500
