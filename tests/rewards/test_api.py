from __future__ import annotations

import pytest

from app.rewards import services
from tests.factories import make_member


@pytest.fixture
def bearer(api_token):
    def _headers(user) -> dict:
        return {"Authorization": f"Bearer {api_token(user)}"}

    return _headers


def test_admin_grants_points_and_the_person_sees_them(client, db, bearer):
    person, admin = make_member(), make_member(roles=("admin",))
    response = client.post(
        f"/api/v1/users/{person.id}/points",
        json={"amount": 150, "reason": "Thanks for the meetup"},
        headers=bearer(admin),
    )
    assert response.status_code == 201
    headers = bearer(person)
    assert client.get("/api/v1/me/points", headers=headers).get_json() == {
        "balance": 150,
        "lifetime": 150,
        "level": 2,
        "to_next_level": 350,
    }
    [entry] = client.get("/api/v1/me/ledger", headers=headers).get_json()
    assert (entry["amount"], entry["note"]) == (150, "Thanks for the meetup")


def test_redeeming_through_the_api(client, db, bearer):
    person = make_member()
    services.grant(person, 25, reason="Welcome", actor=make_member(roles=("admin",)))
    item = services.create_item(make_member(roles=("product",)), name="Mug", cost=20, stock=1)
    headers = bearer(person)
    response = client.post(f"/api/v1/rewards/{item.id}/redemptions", headers=headers)
    assert response.status_code == 201
    assert response.get_json()["status"] == "requested"
    again = client.post(f"/api/v1/rewards/{item.id}/redemptions", headers=headers)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] in {"out_of_stock", "insufficient_points"}
    assert client.get("/api/v1/me/points", headers=headers).get_json()["balance"] == 5
    assert [
        r["item_id"] for r in client.get("/api/v1/me/redemptions", headers=headers).get_json()
    ] == [item.id]


def test_leaderboard_shows_the_callers_place(client, db, bearer):
    leader, me = make_member(display_name="Leader"), make_member(display_name="Me")
    services.earn(leader.id, "adopted", key="adopted:1")
    services.earn(me.id, "comment", key="comment:1")
    from app.extensions import db as _db

    _db.session.commit()
    body = client.get("/api/v1/leaderboard?period=all", headers=bearer(me)).get_json()
    assert [(s["rank"], s["user"]["display_name"]) for s in body["items"]] == [
        (1, "Leader"),
        (2, "Me"),
    ]
    assert body["me"]["rank"] == 2
    assert client.get("/api/v1/leaderboard?period=decade").status_code == 422
