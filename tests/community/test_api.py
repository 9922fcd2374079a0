"""The community JSON API: comments, reactions, follows, notifications and public profiles."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from app.community import services
from app.community.models import Comment, Notification, Reaction
from app.ideas.models import PENDING, Idea
from tests.factories import make_category, make_challenge, make_idea, make_member

COMMENT_FIELDS = {
    "id",
    "parent_id",
    "depth",
    "author",
    "body_html",
    "by_staff",
    "is_official",
    "edited",
    "removed",
    "reactions",
    "my_reactions",
    "created_at",
}


@pytest.fixture
def bearer(api_token):
    def _headers(user) -> dict:
        return {"Authorization": f"Bearer {api_token(user)}"}

    return _headers


def comment_total(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Comment))


def comment_count_of(db, idea) -> int:
    db.session.expire_all()
    return db.session.get(Idea, idea.id).comment_count


def emoji_path(comment_id: int, emoji: str) -> str:
    return f"/api/v1/comments/{comment_id}/reactions/{quote(emoji)}"


# --- reading the thread ---------------------------------------------------------------------


def test_thread_is_a_flat_list_in_thread_order(client, db):
    idea = make_idea()
    ada, bob = make_member(display_name="Ada"), make_member()
    first = services.post_comment(ada, idea=idea, body="First")
    second = services.post_comment(bob, idea=idea, body="Second")
    reply = services.post_comment(bob, parent=first, body="Reply to first")
    deeper = services.post_comment(ada, parent=reply, body="Reply to the reply")

    body = client.get(f"/api/v1/ideas/{idea.id}/comments").get_json()

    assert [c["id"] for c in body["items"]] == [first.id, reply.id, deeper.id, second.id]
    assert [(c["parent_id"], c["depth"]) for c in body["items"]] == [
        (None, 0),
        (first.id, 1),
        (reply.id, 2),
        (None, 0),
    ]
    assert body["count"] == 4


def test_a_comment_carries_the_documented_fields(client, db):
    idea = make_idea()
    ada = make_member(display_name="Ada")
    services.post_comment(ada, idea=idea, body="**Bright** idea")

    [item] = client.get(f"/api/v1/ideas/{idea.id}/comments").get_json()["items"]

    assert set(item) == COMMENT_FIELDS
    assert item["author"] == {"id": ada.id, "display_name": "Ada"}
    assert "<strong>Bright</strong>" in item["body_html"]
    assert (item["by_staff"], item["is_official"], item["edited"], item["removed"]) == (
        False,
        False,
        False,
        False,
    )
    assert (item["reactions"], item["my_reactions"]) == ({}, [])


def test_a_removed_comment_keeps_its_place_but_not_its_text_or_author(client, db):
    idea = make_idea()
    ada = make_member(display_name="Ada Lovelace")
    gone = services.post_comment(ada, idea=idea, body="Regrettable words")
    reply = services.post_comment(make_member(), parent=gone, body="The reply stays")
    services.delete_comment(gone, actor=ada)

    response = client.get(f"/api/v1/ideas/{idea.id}/comments")

    placeholder, kept = response.get_json()["items"]
    assert (placeholder["id"], placeholder["removed"]) == (gone.id, True)
    assert (placeholder["body_html"], placeholder["author"]) == ("", None)
    assert "Regrettable" not in response.get_data(as_text=True)
    assert "Ada Lovelace" not in response.get_data(as_text=True)
    assert (kept["id"], kept["parent_id"], kept["removed"]) == (reply.id, gone.id, False)


def test_staff_comments_and_the_official_answer_are_marked(client, db):
    idea = make_idea()
    moderator = make_member(roles=("moderator",))
    answer = services.post_comment(moderator, idea=idea, body="We are on it.")
    services.mark_official(answer, actor=moderator)

    [item] = client.get(f"/api/v1/ideas/{idea.id}/comments").get_json()["items"]

    assert (item["by_staff"], item["is_official"]) == (True, True)


def test_an_edited_comment_says_so(client, db):
    idea = make_idea()
    ada = make_member()
    comment = services.post_comment(ada, idea=idea, body="Frist")
    services.edit_comment(comment, editor=ada, body="First")

    [item] = client.get(f"/api/v1/ideas/{idea.id}/comments").get_json()["items"]

    assert item["edited"] is True
    assert "First" in item["body_html"]


def test_reactions_are_counted_and_the_callers_own_are_listed(client, db, bearer):
    idea = make_idea()
    comment = services.post_comment(make_member(), idea=idea, body="React to me")
    viewer, other = make_member(), make_member()
    services.react(comment, user=viewer, emoji="👍")
    services.react(comment, user=other, emoji="👍")
    services.react(comment, user=other, emoji="🎉")
    path = f"/api/v1/ideas/{idea.id}/comments"

    mine = client.get(path, headers=bearer(viewer)).get_json()["items"][0]
    anonymous = client.get(path).get_json()["items"][0]

    assert mine["reactions"] == {"👍": 2, "🎉": 1}
    assert mine["my_reactions"] == ["👍"]
    assert anonymous["reactions"] == {"👍": 2, "🎉": 1}
    assert anonymous["my_reactions"] == []


def test_the_thread_costs_the_same_queries_whatever_its_size(client, db, bearer, count_queries):
    small, large = make_idea(), make_idea()
    people = [make_member() for _ in range(4)]
    for n in range(2):
        services.post_comment(people[n], idea=small, body=f"Only branch {n}")
    root = services.post_comment(people[0], idea=large, body="Root")
    for n, person in enumerate(people * 3):
        comment = services.post_comment(person, parent=root, body=f"Reply {n}")
        services.react(comment, user=people[0], emoji="💡")

    paths = [f"/api/v1/ideas/{idea.id}/comments" for idea in (small, large)]
    headers = bearer(people[1])
    client.get("/api/v1/me", headers=headers)  # the token's first use is recorded once

    with count_queries() as small_queries:
        assert client.get(paths[0], headers=headers).status_code == 200
    with count_queries() as large_queries:
        assert client.get(paths[1], headers=headers).status_code == 200

    # The token, the idea, and the comments with their authors, pictures and reactions (counted,
    # and marked when yours) in one query.
    assert small_queries() == large_queries() == 3

    # A page of a longer conversation first finds its branches: one query more, at any size.
    with count_queries() as paged_small:
        assert client.get(f"{paths[0]}?limit=1", headers=headers).status_code == 200
    with count_queries() as paged_large:
        assert client.get(f"{paths[1]}?limit=1", headers=headers).status_code == 200
    assert paged_small() == paged_large() == 4


def test_a_pending_idea_of_someone_else_has_no_visible_thread(client, db, bearer):
    author = make_member()
    idea = make_idea(author, status=PENDING)
    services.post_comment(author, idea=idea, body="Notes to self")
    path = f"/api/v1/ideas/{idea.id}/comments"

    assert client.get(path).status_code == 404
    assert client.get(path, headers=bearer(make_member())).status_code == 404
    assert client.get(path, headers=bearer(author)).status_code == 200


def test_the_thread_of_no_idea_is_404_json(client, db):
    response = client.get("/api/v1/ideas/4242/comments")

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


# --- writing comments -----------------------------------------------------------------------


def test_posting_a_comment_answers_201_with_it_and_counts_it(client, db, bearer):
    idea = make_idea()
    ada = make_member(display_name="Ada")
    assert comment_count_of(db, idea) == 0

    response = client.post(
        f"/api/v1/ideas/{idea.id}/comments", json={"body": "Nice *idea*"}, headers=bearer(ada)
    )

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == COMMENT_FIELDS
    assert body["author"] == {"id": ada.id, "display_name": "Ada"}
    assert "<em>idea</em>" in body["body_html"]
    assert (body["parent_id"], body["depth"]) == (None, 0)
    assert db.session.get(Comment, body["id"]).idea_id == idea.id
    assert comment_count_of(db, idea) == 1


def test_a_reply_names_its_parent(client, db, bearer):
    idea = make_idea()
    parent = services.post_comment(make_member(), idea=idea, body="Parent")

    response = client.post(
        f"/api/v1/ideas/{idea.id}/comments",
        json={"body": "Child", "parent_id": parent.id},
        headers=bearer(make_member()),
    )

    assert response.status_code == 201
    assert (response.get_json()["parent_id"], response.get_json()["depth"]) == (parent.id, 1)


def test_a_reply_to_a_comment_on_another_idea_is_422_and_writes_nothing(client, db, bearer):
    here, elsewhere = make_idea(), make_idea()
    parent = services.post_comment(make_member(), idea=elsewhere, body="Elsewhere")
    assert comment_total(db) == 1

    response = client.post(
        f"/api/v1/ideas/{here.id}/comments",
        json={"body": "Lost reply", "parent_id": parent.id},
        headers=bearer(make_member()),
    )

    assert response.status_code == 422
    assert "parent_id" in response.get_json()["error"]["fields"]
    assert comment_total(db) == 1
    assert comment_count_of(db, elsewhere) == 1


def test_a_reply_to_no_comment_is_404_naming_the_parent(client, db, bearer):
    idea = make_idea()

    response = client.post(
        f"/api/v1/ideas/{idea.id}/comments",
        json={"body": "To nobody", "parent_id": 999_999},
        headers=bearer(make_member()),
    )

    assert response.status_code == 404
    assert "parent_id" in response.get_json()["error"]["fields"]
    assert comment_total(db) == 0


def test_a_reply_to_a_removed_comment_is_409(client, db, bearer):
    idea = make_idea()
    author = make_member()
    parent = services.post_comment(author, idea=idea, body="Soon gone")
    services.delete_comment(parent, actor=author)

    response = client.post(
        f"/api/v1/ideas/{idea.id}/comments",
        json={"body": "Too late", "parent_id": parent.id},
        headers=bearer(make_member()),
    )

    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "parent_removed"
    assert comment_total(db) == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"body": ""},
        {"body": "   \n "},
        {"body": "x" * (services.COMMENT_MAX + 1)},
        {"body": 42},
        {"body": None},
        {},
        {"body": "ok", "parent_id": 0},
        {"body": "ok", "parent_id": 2**40},
        {"body": "ok", "parent_id": "first"},
        {"body": "ok", "colour": "red"},
    ],
    ids=[
        "empty",
        "blank",
        "too-long",
        "number",
        "null",
        "missing",
        "parent-zero",
        "parent-huge",
        "parent-text",
        "unknown-field",
    ],
)
def test_invalid_comments_are_422_and_nothing_is_written(client, db, bearer, payload):
    idea = make_idea()

    response = client.post(
        f"/api/v1/ideas/{idea.id}/comments", json=payload, headers=bearer(make_member())
    )

    assert response.status_code == 422
    assert set(response.get_json()["error"]) == {"code", "message", "fields"}
    assert comment_total(db) == 0


def test_anonymous_cannot_comment(client, db):
    idea = make_idea()

    response = client.post(f"/api/v1/ideas/{idea.id}/comments", json={"body": "Hello"})

    assert response.status_code == 401
    assert comment_total(db) == 0


def test_nobody_comments_on_a_pending_idea_they_cannot_see(client, db, bearer):
    idea = make_idea(make_member(), status=PENDING)

    response = client.post(
        f"/api/v1/ideas/{idea.id}/comments", json={"body": "Hello"}, headers=bearer(make_member())
    )

    assert response.status_code == 404
    assert comment_total(db) == 0
    # Counted before it was seen to be hidden, and uncounted with everything else.
    db.session.expire_all()
    assert db.session.get(Idea, idea.id).comment_count == 0


def test_a_comment_on_no_idea_is_404_json(client, db, bearer):
    response = client.post(
        "/api/v1/ideas/999999/comments", json={"body": "Hello"}, headers=bearer(make_member())
    )

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert comment_total(db) == 0


def test_a_browser_session_needs_the_csrf_header_to_comment(client, db, login):
    idea = make_idea()
    login(make_member())
    path = f"/api/v1/ideas/{idea.id}/comments"

    refused = client.post(path, json={"body": "No header"})
    accepted = client.post(
        path, json={"body": "Header"}, headers={"X-CSRFToken": client.csrf_token()}
    )

    assert refused.status_code == 400
    assert accepted.status_code == 201
    assert comment_total(db) == 1


def test_the_author_edits_a_comment(client, db, bearer):
    author = make_member()
    comment = services.post_comment(author, idea=make_idea(), body="Frist")

    response = client.patch(
        f"/api/v1/comments/{comment.id}", json={"body": "First"}, headers=bearer(author)
    )

    assert response.status_code == 200
    assert response.get_json()["edited"] is True
    assert response.get_json()["body_html"] == "<p>First</p>\n"
    db.session.expire_all()
    assert db.session.get(Comment, comment.id).body == "First"


def test_someone_else_cannot_edit_a_comment(client, db, bearer):
    comment = services.post_comment(make_member(), idea=make_idea(), body="Mine")

    response = client.patch(
        f"/api/v1/comments/{comment.id}", json={"body": "Yours now"}, headers=bearer(make_member())
    )

    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Comment, comment.id).body == "Mine"


def test_a_removed_comment_cannot_be_edited(client, db, bearer):
    author = make_member()
    comment = services.post_comment(author, idea=make_idea(), body="Gone")
    services.delete_comment(comment, actor=author)

    response = client.patch(
        f"/api/v1/comments/{comment.id}", json={"body": "Back"}, headers=bearer(author)
    )

    assert response.status_code == 409


def test_deleting_a_comment_is_204_and_idempotent(client, db, bearer):
    idea = make_idea()
    author = make_member()
    comment = services.post_comment(author, idea=idea, body="Oops")
    headers = bearer(author)
    assert comment_count_of(db, idea) == 1

    first = client.delete(f"/api/v1/comments/{comment.id}", headers=headers)
    second = client.delete(f"/api/v1/comments/{comment.id}", headers=headers)

    assert (first.status_code, second.status_code) == (204, 204)
    assert first.get_data() == b""
    assert comment_count_of(db, idea) == 0


@pytest.mark.parametrize(("role", "status"), [("customer", 403), ("moderator", 204)])
def test_only_the_author_or_a_moderator_deletes(client, db, bearer, role, status):
    comment = services.post_comment(make_member(), idea=make_idea(), body="Contested")

    response = client.delete(
        f"/api/v1/comments/{comment.id}", headers=bearer(make_member(roles=(role,)))
    )

    assert response.status_code == status
    db.session.expire_all()
    assert db.session.get(Comment, comment.id).is_deleted is (status == 204)


# --- reactions ------------------------------------------------------------------------------


@pytest.mark.parametrize("emoji", ["👍", "❤️", "🎉", "💡"])
def test_reacting_is_idempotent_and_answers_the_counts(client, db, bearer, emoji):
    comment = services.post_comment(make_member(), idea=make_idea(), body="React")
    headers = bearer(make_member())
    path = emoji_path(comment.id, emoji)

    assert client.put(path, headers=headers).get_json() == {"reactions": {emoji: 1}}
    assert client.put(path, headers=headers).get_json() == {"reactions": {emoji: 1}}
    assert client.delete(path, headers=headers).get_json() == {"reactions": {}}
    assert client.delete(path, headers=headers).get_json() == {"reactions": {}}


def test_a_heart_without_its_variation_selector_is_the_heart(client, db, bearer):
    comment = services.post_comment(make_member(), idea=make_idea(), body="Love")

    response = client.put(emoji_path(comment.id, "\u2764"), headers=bearer(make_member()))

    assert response.get_json() == {"reactions": {"❤️": 1}}


@pytest.mark.parametrize("emoji", ["🙂", "thumbsup", "👍👍", "%00"])
def test_an_unknown_reaction_is_422_and_nothing_is_written(client, db, bearer, emoji):
    comment = services.post_comment(make_member(), idea=make_idea(), body="React")

    response = client.put(
        f"/api/v1/comments/{comment.id}/reactions/{quote(emoji, safe='%')}",
        headers=bearer(make_member()),
    )

    assert response.status_code == 422
    assert "emoji" in response.get_json()["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(Reaction)) == 0


def test_reacting_to_a_removed_comment_is_409(client, db, bearer):
    author = make_member()
    comment = services.post_comment(author, idea=make_idea(), body="Gone")
    services.delete_comment(comment, actor=author)

    response = client.put(emoji_path(comment.id, "👍"), headers=bearer(make_member()))

    assert response.status_code == 409


def test_reacting_on_a_pending_idea_one_cannot_see_is_404(client, db, bearer):
    author = make_member()
    comment = services.post_comment(
        author, idea=make_idea(author, status=PENDING), body="Draft note"
    )

    response = client.put(emoji_path(comment.id, "👍"), headers=bearer(make_member()))

    assert response.status_code == 404


def test_anonymous_cannot_react(client, db):
    comment = services.post_comment(make_member(), idea=make_idea(), body="React")

    assert client.put(emoji_path(comment.id, "👍")).status_code == 401


# --- follows --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["idea", "challenge", "category", "user"])
def test_following_and_unfollowing_are_idempotent(client, db, bearer, kind):
    target = {
        "idea": make_idea,
        "challenge": make_challenge,
        "category": make_category,
        "user": make_member,
    }[kind]()
    person = make_member()
    headers = bearer(person)
    path = f"/api/v1/follows/{kind}/{target.id}"
    assert services.is_following(person, kind, target.id) is False

    assert client.put(path, headers=headers).get_json() == {"following": True}
    assert client.put(path, headers=headers).get_json() == {"following": True}
    assert services.is_following(person, kind, target.id) is True
    assert client.delete(path, headers=headers).get_json() == {"following": False}
    assert client.delete(path, headers=headers).get_json() == {"following": False}
    assert services.is_following(person, kind, target.id) is False


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/api/v1/follows/planet/1", 422, "kind"),
        ("/api/v1/follows/idea/424242", 404, None),
        ("/api/v1/follows/user/424242", 404, None),
    ],
)
def test_following_nothing_is_a_clear_error(client, db, bearer, path, status, field):
    response = client.put(path, headers=bearer(make_member()))

    assert response.status_code == status
    if field:
        assert field in response.get_json()["error"]["fields"]


def test_following_yourself_is_422(client, db, bearer):
    person = make_member()

    response = client.put(f"/api/v1/follows/user/{person.id}", headers=bearer(person))

    assert response.status_code == 422
    assert services.is_following(person, "user", person.id) is False


def test_a_pending_idea_of_someone_else_cannot_be_followed(client, db, bearer):
    idea = make_idea(make_member(), status=PENDING)
    person = make_member()

    response = client.put(f"/api/v1/follows/idea/{idea.id}", headers=bearer(person))

    assert response.status_code == 404
    assert services.is_following(person, "idea", idea.id) is False


# --- notifications --------------------------------------------------------------------------


def reply_to(person, *, replier=None, idea=None):
    """Someone replies to ``person``'s comment: ``person`` gets one notification."""
    replier = replier or make_member(display_name="Bea")
    parent = services.post_comment(person, idea=idea or make_idea(), body="Question?")
    return services.post_comment(replier, parent=parent, body="Answer!")


def test_notifications_list_the_newest_first_with_their_details(client, db, bearer):
    person = make_member()
    bea = make_member(display_name="Bea")
    idea = make_idea(title="Lamp that follows the sun")
    older = reply_to(person, replier=bea, idea=idea)
    newer = reply_to(person, replier=bea, idea=idea)

    body = client.get("/api/v1/notifications", headers=bearer(person)).get_json()

    assert body["unread"] == 2
    first, second = body["items"]
    assert set(first) == {"id", "kind", "text", "url", "actor", "created_at", "read"}
    assert first["id"] > second["id"]
    assert first["kind"] == "reply"
    assert first["text"] == "Bea replied to you on “Lamp that follows the sun”"
    assert first["url"] == f"/ideas/{idea.id}?comment={newer.id}#comment-{newer.id}"
    assert second["url"] == f"/ideas/{idea.id}?comment={older.id}#comment-{older.id}"
    assert first["actor"] == {"id": bea.id, "display_name": "Bea"}
    assert first["read"] is False


def test_notifications_can_be_limited_to_unread_ones(client, db, bearer):
    person = make_member()
    reply_to(person)
    reply_to(person)
    first_id = min(n.id for n in services.notifications_for(person))
    services.mark_read(person, [first_id])
    headers = bearer(person)

    everything = client.get("/api/v1/notifications", headers=headers).get_json()
    unread = client.get("/api/v1/notifications?unread=true", headers=headers).get_json()

    assert [n["read"] for n in everything["items"]] == [False, True]
    assert [n["id"] for n in unread["items"]] == [everything["items"][0]["id"]]
    assert unread["unread"] == 1


def test_nobody_sees_anyone_elses_notifications(client, db, bearer):
    reply_to(make_member())

    body = client.get("/api/v1/notifications", headers=bearer(make_member())).get_json()

    assert body == {"items": [], "unread": 0}


def test_marking_some_notifications_read(client, db, bearer):
    person = make_member()
    reply_to(person)
    reply_to(person)
    reply_to(person)
    ids = [n.id for n in services.notifications_for(person)]
    assert services.unread_count(person) == 3

    response = client.post(
        "/api/v1/notifications/read", json={"ids": ids[:2]}, headers=bearer(person)
    )

    assert response.get_json() == {"unread": 1}
    assert services.unread_count(person) == 1


def test_marking_everything_read(client, db, bearer):
    person = make_member()
    reply_to(person)
    reply_to(person)

    response = client.post("/api/v1/notifications/read", json={}, headers=bearer(person))

    assert response.get_json() == {"unread": 0}
    assert services.unread_count(person) == 0


def test_nobody_marks_anyone_elses_notifications_read(client, db, bearer):
    owner = make_member()
    reply_to(owner)
    [notification] = services.notifications_for(owner)

    response = client.post(
        "/api/v1/notifications/read", json={"ids": [notification.id]}, headers=bearer(make_member())
    )

    assert response.get_json() == {"unread": 0}
    db.session.expire_all()
    assert db.session.get(Notification, notification.id).read_at is None


@pytest.mark.parametrize(
    "payload",
    [
        {"ids": "all"},
        {"ids": [0]},
        {"ids": [2**63]},
        {"ids": ["one"]},
        {"ids": None},
        {"ids": list(range(1, 502))},
        {"all": True},
    ],
    ids=["text", "zero", "huge", "words", "null", "too-many", "unknown-field"],
)
def test_bad_ids_to_mark_read_are_422_and_change_nothing(client, db, bearer, payload):
    person = make_member()
    reply_to(person)

    response = client.post("/api/v1/notifications/read", json=payload, headers=bearer(person))

    assert response.status_code == 422
    assert services.unread_count(person) == 1


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/v1/notifications"), ("POST", "/api/v1/notifications/read")]
)
def test_notifications_need_a_signed_in_caller(client, db, method, path):
    assert client.open(path, method=method, json={}).status_code == 401


# --- public profiles ------------------------------------------------------------------------


def test_a_profile_shows_public_details_and_never_the_email(client, db):
    ada = make_member(display_name="Ada", email="ada.private@example.com")

    response = client.get(f"/api/v1/users/{ada.id}")

    body = response.get_json()
    assert set(body) == {
        "id",
        "display_name",
        "bio",
        "avatar_url",
        "joined",
        "idea_count",
        "comment_count",
    }
    assert (body["id"], body["display_name"], body["bio"], body["avatar_url"]) == (
        ada.id,
        "Ada",
        "",
        None,
    )
    assert "ada.private" not in response.get_data(as_text=True)


def test_a_profile_counts_only_what_others_can_see(client, db):
    ada = make_member()
    open_idea = make_idea(ada)
    make_idea(ada, status=PENDING)
    pending_elsewhere = make_idea(ada, status=PENDING)
    services.post_comment(ada, idea=open_idea, body="Kept")
    services.post_comment(ada, idea=pending_elsewhere, body="Hidden with its idea")
    removed = services.post_comment(ada, idea=open_idea, body="Removed")
    services.delete_comment(removed, actor=ada)

    body = client.get(f"/api/v1/users/{ada.id}").get_json()

    assert (body["idea_count"], body["comment_count"]) == (1, 1)


def test_the_profile_of_no_one_is_404(client, db):
    assert client.get("/api/v1/users/424242").status_code == 404


def _branches(idea, people, n: int) -> list:
    """``n`` top-level comments, each with one reply, oldest first: the roots."""
    roots = []
    for k in range(n):
        root = services.post_comment(people[k % 2], idea=idea, body=f"Branch {k}")
        services.post_comment(people[(k + 1) % 2], parent=root, body=f"Reply to branch {k}")
        roots.append(root)
    return roots


def test_a_long_thread_comes_a_page_of_branches_at_a_time(client, db):
    idea = make_idea()
    roots = _branches(idea, [make_member(), make_member()], 5)
    path = f"/api/v1/ideas/{idea.id}/comments"

    pages, after = [], None
    while True:
        body = client.get(path, query_string={"limit": 2, "after": after}).get_json()
        pages.append(body)
        after = body["next_after"]
        if after is None:
            break

    assert [len(page["items"]) for page in pages] == [4, 4, 2]
    assert [page["count"] for page in pages] == [10, 10, 10]
    top = [item["id"] for page in pages for item in page["items"] if item["parent_id"] is None]
    assert top == [root.id for root in roots]
    every = [item["id"] for page in pages for item in page["items"]]
    assert every == [item["id"] for item in client.get(path).get_json()["items"]]
    assert len(set(every)) == 10
    assert pages[0]["next_after"] == roots[1].id


def test_a_page_of_the_thread_can_stop_before_a_branch(client, db):
    idea = make_idea()
    roots = _branches(idea, [make_member(), make_member()], 5)
    body = client.get(
        f"/api/v1/ideas/{idea.id}/comments",
        query_string={"after": roots[0].id, "before": roots[3].id},
    ).get_json()
    assert [i["id"] for i in body["items"] if i["parent_id"] is None] == [r.id for r in roots[1:3]]
    assert body["next_after"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"after": "elsewhere"}, "after"),
        ({"after": "missing"}, "after"),
        ({"before": "elsewhere", "after": "own"}, "before"),
        ({"after": 0}, "after"),
        ({"after": "x"}, "after"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": 2.5}, "limit"),
    ],
)
def test_a_page_of_the_thread_refuses_what_is_not_a_place_in_it(client, db, query, field):
    idea, other = make_idea(), make_idea()
    person = make_member()
    # Written before this idea's branch: a page after it would hold that branch.
    elsewhere = services.post_comment(person, idea=other, body="On another idea")
    own = services.post_comment(person, idea=idea, body="The only branch")
    names = {"own": own.id, "elsewhere": elsewhere.id, "missing": 2**31 - 1}
    query = {key: names.get(value, value) for key, value in query.items()}

    response = client.get(f"/api/v1/ideas/{idea.id}/comments", query_string=query)

    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]


def test_a_page_can_start_after_a_removed_comment(client, db):
    idea = make_idea()
    people = [make_member(), make_member()]
    roots = _branches(idea, people, 3)
    services.delete_comment(roots[2], actor=people[0])
    body = client.get(
        f"/api/v1/ideas/{idea.id}/comments", query_string={"after": roots[2].id}
    ).get_json()
    assert body == {"items": [], "count": 5, "next_after": None}
