"""The baseline of `make bench`: its list and its vote work, on its own small database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bench.baseline import app as baseline
from bench.baseline.seed import seed, token_for


@pytest.fixture
def base(tmp_path):
    url = f"sqlite:///{tmp_path / 'baseline.sqlite3'}"
    seed(url, people=20, ideas=12, votes=40)
    application = baseline.create_app(url)
    with application.app_context():
        yield application
        baseline.db.session.remove()
        baseline.db.engine.dispose()


def _stored_and_counted(idea_id: int) -> tuple[int, int]:
    session = baseline.db.session
    session.expire_all()
    stored = session.scalar(select(baseline.Idea.vote_count).where(baseline.Idea.id == idea_id))
    counted = session.scalar(
        select(func.count()).select_from(baseline.Vote).where(baseline.Vote.idea_id == idea_id)
    )
    return stored, counted


def test_lists_ideas_with_authors_hot_first_and_newest_first(base):
    client = base.test_client()
    hot = client.get("/ideas?sort=hot").get_json()["items"]
    assert len(hot) == 12
    scores = {i.id: i.hot_score for i in baseline.db.session.scalars(select(baseline.Idea))}
    assert [scores[i["id"]] for i in hot] == sorted(scores.values(), reverse=True)
    assert all(i["author"]["name"].startswith("Person ") for i in hot)
    new = client.get("/ideas?sort=new").get_json()["items"]
    assert [i["created_at"] for i in new] == sorted((i["created_at"] for i in new), reverse=True)


def test_seeded_counters_are_exact(base):
    for idea_id in range(1, 13):
        stored, counted = _stored_and_counted(idea_id)
        assert stored == counted


def test_vote_bumps_the_counter_once_and_withdrawal_undoes_it(base):
    client = base.test_client()
    voted = {(v.person_id, v.idea_id) for v in baseline.db.session.scalars(select(baseline.Vote))}
    person, idea = next((p, i) for p in range(1, 21) for i in range(1, 13) if (p, i) not in voted)
    before, _ = _stored_and_counted(idea)
    auth = {"Authorization": f"Bearer {token_for(person)}"}

    first = client.put(f"/ideas/{idea}/vote", headers=auth)
    assert first.status_code == 200
    assert first.get_json() == {"vote_count": before + 1, "voted": True}
    again = client.put(f"/ideas/{idea}/vote", headers=auth)
    assert again.get_json() == {"vote_count": before + 1, "voted": True}
    assert _stored_and_counted(idea) == (before + 1, before + 1)

    withdrawn = client.delete(f"/ideas/{idea}/vote", headers=auth)
    assert withdrawn.get_json() == {"vote_count": before, "voted": False}
    assert client.delete(f"/ideas/{idea}/vote", headers=auth).get_json()["vote_count"] == before
    assert _stored_and_counted(idea) == (before, before)


def test_vote_needs_a_known_token(base):
    client = base.test_client()
    assert client.put("/ideas/1/vote").status_code == 401
    assert client.put("/ideas/1/vote", headers={"Authorization": "Bearer nope"}).status_code == 401
    missing = client.put("/ideas/999/vote", headers={"Authorization": f"Bearer {token_for(1)}"})
    assert missing.status_code == 404
