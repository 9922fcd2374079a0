from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.database import utcnow
from app.ideas.models import Idea, Vote
from tests.factories import make_category, make_challenge, make_idea, make_member


@pytest.fixture
def bearer(api_token):
    def _headers(user) -> dict:
        return {"Authorization": f"Bearer {api_token(user)}"}

    return _headers


def test_idea_json_has_the_documented_fields(client, db):
    idea = make_idea(title="Lamp that follows the sun", body="**Bright**")
    body = client.get(f"/api/v1/ideas/{idea.id}").get_json()
    assert body["title"] == "Lamp that follows the sun"
    assert "<strong>Bright</strong>" in body["body_html"]
    assert body["author"] == {"id": idea.author_id, "display_name": idea.author.display_name}
    assert (body["status"], body["vote_count"], body["voted_by_me"]) == ("open", 0, False)
    assert body["url"] == f"/ideas/{idea.id}"


def test_create_idea_through_the_api(client, db, bearer):
    kitchen = make_category("Kitchen")
    response = client.post(
        "/api/v1/ideas",
        json={
            "title": "Bread box that keeps crust crisp",
            "body": "Vents at the back.",
            "category_id": kitchen.id,
            "tags": ["Bread", "kitchen"],
        },
        headers=bearer(make_member()),
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["category"]["slug"] == "kitchen"
    assert body["tags"] == ["bread", "kitchen"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "Tiny", "body": "x"}, "title"),
        ({"title": "Long enough", "body": ""}, "body"),
        ({"title": "Long enough", "body": "x", "tags": ["a", "b", "c", "d", "e", "f"]}, "tags"),
        ({"title": "Long enough", "body": "x", "category_id": 999}, "category"),
        ({"body": "x"}, "title"),
    ],
)
def test_invalid_ideas_get_field_errors_and_nothing_is_written(client, db, bearer, payload, field):
    response = client.post("/api/v1/ideas", json=payload, headers=bearer(make_member()))
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(Idea)) == 0


def test_anonymous_cannot_post_ideas(client, db):
    response = client.post("/api/v1/ideas", json={"title": "Long enough", "body": "x"})
    assert response.status_code == 401


def test_vote_is_idempotent_and_reports_the_count(client, db, bearer):
    idea = make_idea()
    headers = bearer(make_member())
    path = f"/api/v1/ideas/{idea.id}/vote"
    assert client.put(path, headers=headers).get_json() == {"vote_count": 1, "voted": True}
    assert client.put(path, headers=headers).get_json() == {"vote_count": 1, "voted": True}
    assert client.get(f"/api/v1/ideas/{idea.id}", headers=headers).get_json()["voted_by_me"]
    assert client.delete(path, headers=headers).get_json() == {"vote_count": 0, "voted": False}
    assert client.delete(path, headers=headers).get_json() == {"vote_count": 0, "voted": False}


def test_voting_on_own_or_closed_ideas_is_refused_clearly(client, db, bearer):
    author = make_member()
    own, shipped = make_idea(author), make_idea(status="shipped")
    response = client.put(f"/api/v1/ideas/{own.id}/vote", headers=bearer(author))
    assert (response.status_code, response.get_json()["error"]["code"]) == (403, "own_idea")
    response = client.put(f"/api/v1/ideas/{shipped.id}/vote", headers=bearer(author))
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "voting_closed")
    assert db.session.scalar(select(func.count()).select_from(Vote)) == 0
    # Withdrawing support one does not give is a no-op, on one's own idea too.
    response = client.delete(f"/api/v1/ideas/{own.id}/vote", headers=bearer(author))
    assert (response.status_code, response.get_json()) == (200, {"vote_count": 0, "voted": False})


def test_illegal_status_move_is_409_and_allowed_one_is_recorded(client, db, bearer):
    idea = make_idea()
    headers = bearer(make_member(roles=("product",)))
    response = client.post(
        f"/api/v1/ideas/{idea.id}/status", json={"status": "shipped"}, headers=headers
    )
    assert (response.status_code, response.get_json()["error"]["code"]) == (
        409,
        "illegal_transition",
    )
    response = client.post(
        f"/api/v1/ideas/{idea.id}/status",
        json={"status": "under_review", "official_response": "Looking into it!"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "under_review"
    assert "Looking into it!" in response.get_json()["official_response_html"]


def test_customers_cannot_change_status(client, db, bearer):
    idea = make_idea()
    response = client.post(
        f"/api/v1/ideas/{idea.id}/status",
        json={"status": "under_review"},
        headers=bearer(make_member()),
    )
    assert response.status_code == 403


def test_merge_through_the_api(client, db, bearer):
    source, target = make_idea(), make_idea()
    response = client.post(
        f"/api/v1/ideas/{source.id}/merge",
        json={"into": target.id},
        headers=bearer(make_member(roles=("moderator",))),
    )
    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["merged_into_id"]) == (
        "merged",
        target.id,
    )
    missing = client.post(
        f"/api/v1/ideas/{target.id}/merge",
        json={"into": 999_999},
        headers=bearer(make_member(roles=("moderator",))),
    )
    assert missing.status_code == 404
    assert "into" in missing.get_json()["error"]["fields"]


def test_list_sorts_filters_and_searches(client, db):
    make_idea(title="Quiet blender", vote_count=3)
    make_idea(title="Solar blender lamp", vote_count=9)
    make_idea(title="Hidden", status="pending")
    top = client.get("/api/v1/ideas?sort=top").get_json()
    assert [i["title"] for i in top["items"]] == ["Solar blender lamp", "Quiet blender"]
    found = client.get("/api/v1/ideas?q=solar").get_json()
    assert [i["title"] for i in found["items"]] == ["Solar blender lamp"]
    assert found["sort"] == "relevance"
    bad = client.get("/api/v1/ideas?sort=sideways")
    assert bad.status_code == 422
    assert "sort" in bad.get_json()["error"]["fields"]


def test_pending_ideas_are_hidden_from_strangers(client, db, bearer):
    idea = make_idea(status="pending")
    assert client.get(f"/api/v1/ideas/{idea.id}").status_code == 404
    assert client.get("/api/v1/ideas?status=pending").status_code == 403
    moderator = bearer(make_member(roles=("moderator",)))
    assert client.get(f"/api/v1/ideas/{idea.id}", headers=moderator).status_code == 200


def test_similar_ideas_endpoint(client, db):
    make_idea(title="Foldable electric scooter")
    body = client.get("/api/v1/ideas/similar?title=scooter").get_json()
    assert [i["title"] for i in body["items"]] == ["Foldable electric scooter"]


def test_challenges_are_created_by_the_product_team_only(client, db, bearer):
    now = utcnow()
    payload = {
        "title": "Greener commute",
        "brief": "Ideas please",
        "opens_at": now.isoformat(),
        "closes_at": (now + timedelta(days=30)).isoformat(),
        "bonus_points": 500,
    }
    assert (
        client.post("/api/v1/challenges", json=payload, headers=bearer(make_member())).status_code
        == 403
    )
    response = client.post(
        "/api/v1/challenges", json=payload, headers=bearer(make_member(roles=("product",)))
    )
    assert response.status_code == 201
    assert response.get_json()["phase"] == "open"
    listed = client.get("/api/v1/challenges").get_json()
    assert [c["title"] for c in listed] == ["Greener commute"]


def test_challenge_that_closes_before_it_opens_is_refused(client, db, bearer):
    now = utcnow()
    response = client.post(
        "/api/v1/challenges",
        json={
            "title": "Backwards",
            "brief": "x",
            "opens_at": now.isoformat(),
            "closes_at": (now - timedelta(days=1)).isoformat(),
        },
        headers=bearer(make_member(roles=("product",))),
    )
    assert response.status_code == 422
    assert "closes_at" in response.get_json()["error"]["fields"]


def test_categories_are_listed_in_order(client, db):
    make_category("Kitchen")
    make_category("Garden")
    assert [c["name"] for c in client.get("/api/v1/categories").get_json()] == ["Kitchen", "Garden"]


def test_closed_challenge_refuses_new_ideas(client, db, bearer):
    challenge = make_challenge(open_now=False)
    response = client.post(
        "/api/v1/ideas",
        json={"title": "Too late now", "body": "x", "challenge_id": challenge.id},
        headers=bearer(make_member()),
    )
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "challenge_closed")


@pytest.mark.parametrize("signed_in", [False, True])
def test_listing_costs_the_same_queries_for_one_or_thirty_ideas(
    client, db, bearer, count_queries, signed_in
):
    headers = bearer(make_member()) if signed_in else {}
    tag_author = make_member()
    make_idea(tag_author)
    client.get("/api/v1/ideas", headers=headers)  # warm up: token use, caches
    with count_queries() as one:
        assert len(client.get("/api/v1/ideas", headers=headers).get_json()["items"]) == 1
    kitchen = make_category("Kitchen")
    for n in range(29):
        make_idea(category_id=kitchen.id if n % 2 else None)
    with count_queries() as thirty:
        assert len(client.get("/api/v1/ideas", headers=headers).get_json()["items"]) == 30
    assert one() == thirty()
    assert thirty() <= 5
