"""The query budget: every hot path costs at most five SQL statements, whatever its size.

Each path is measured at 1 and at 30 items (ideas on the list; comments with reactions,
pictures, tags and timeline entries on the idea page; notifications in the center), for an
anonymous reader and for a signed-in customer (the costlier case: the user is loaded, the bell
counts unread notifications, and "did I support this", "do I follow this" are answered). The
count includes everything the request runs: the user loader, context processors and panels,
and for a vote or a comment every subscriber inside its transaction.

A failing budget prints the statements, so the new query is easy to find. Statements on the
points tables (the rewards ledger paid by vote and comment subscribers, the balance in the
navigation) are counted too, and reported apart: that module keeps its own budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from app.accounts.models import User
from app.community import services as community
from app.community.models import Activity, Notification, Profile, Reaction
from app.database import utcnow
from app.extensions import db as _db
from app.ideas import services as ideas_services
from app.ideas.models import IdeaImage, Milestone, StatusChange, Tag, Vote
from tests.conftest import NOT_QUERIES
from tests.factories import make_category, make_challenge, make_idea, make_member

BUDGET = 5
SIZES = (1, 30)
READERS = ("anonymous", "customer")
REWARDS_TABLES = ("earning_rules", "ledger_entries", "balances", "redemptions", "user_badges")


@pytest.fixture
def measure(client, count_queries) -> Callable:
    """``measure(method, url, **kwargs)`` → (response, statements), counted by count_queries."""

    @contextmanager
    def _recording() -> Iterator[list[str]]:
        statements: list[str] = []

        def _record(conn, cursor, statement, *args) -> None:
            if not statement.lstrip().upper().startswith(NOT_QUERIES):
                statements.append(statement)

        event.listen(_db.engine, "before_cursor_execute", _record)
        try:
            yield statements
        finally:
            event.remove(_db.engine, "before_cursor_execute", _record)

    def _measure(method: str, url: str, **kwargs):
        with count_queries() as n, _recording() as statements:
            response = client.open(url, method=method, **kwargs)
        assert n() == len(statements)
        return response, statements

    return _measure


@pytest.fixture
def sign_in(client, login) -> Callable:
    """``sign_in(kind)`` → the signed-in customer (None for "anonymous") and write headers."""

    def _sign_in(kind: str) -> tuple[User | None, dict]:
        if kind == "anonymous":
            return None, {}
        user = make_member()
        login(user)
        return user, {"X-CSRFToken": client.csrf_token()}

    return _sign_in


def _on_points(statement: str) -> bool:
    return any(f" {table} " in f" {statement} " for table in REWARDS_TABLES)


def _report(
    label: str, counts: dict[int, list[str]], *, budget: int = BUDGET, own: int = BUDGET
) -> None:
    """Equal at every size, at most ``budget`` in all and ``own`` outside the points tables."""
    small, large = (counts[size] for size in SIZES)
    points = [s for s in large if _on_points(s)]
    print(
        f"\nquery budget: {label}: {len(small)} at {SIZES[0]}, {len(large)} at {SIZES[1]}"
        f" ({len(large) - len(points)} + {len(points)} on the points tables)"
    )
    detail = "\n".join(f"  {' '.join(s.split())[:160]}" for s in large)
    assert len(small) == len(large), f"{label} grows with its size:\n{detail}"
    assert len(large) - len(points) <= own, f"{label} runs {len(large)} statements:\n{detail}"
    assert len(large) <= budget, f"{label} runs {len(large)} statements:\n{detail}"


# --- data -----------------------------------------------------------------------------------


def _dress(idea, *, tags: int, images: int) -> None:
    """Give an idea tags and pictures (rows only: no file is read to render them)."""
    idea.tags = [_tag(f"tag-{idea.id}-{n}") for n in range(tags)]
    for n in range(images):
        _db.session.add(
            IdeaImage(
                idea_id=idea.id,
                path=f"ideas/{idea.id}/{n}.webp",
                content_type="image/webp",
                width=640,
                height=480,
                size=1000,
                position=n,
            )
        )
    _db.session.commit()


def _tag(name: str) -> Tag:
    tag = Tag(name=name)
    _db.session.add(tag)
    return tag


def _board(count: int, *, voter: User | None, start: int = 0) -> list:
    """``count`` listed ideas titled "Solar lamp …", half in a category, with tags, a picture,
    and every other one supported by ``voter``."""
    kitchen = make_category()
    made = []
    for n in range(start, start + count):
        idea = make_idea(
            title=f"Solar lamp number {n}",
            category_id=kitchen.id if n % 2 else None,
            vote_count=n,
            recent_vote_count=n % 5,
        )
        _dress(idea, tags=2, images=1)
        if voter is not None and n % 2 == 0:
            _db.session.add(Vote(idea_id=idea.id, voter_id=voter.id))
        made.append(idea)
    _db.session.commit()
    return made


def _busy_idea(size: int, *, reader: User | None):
    """An idea with ``size`` of everything its page shows: comments (some replies, one official
    answer) with reactions (some the reader's), authors with pictures, tags, pictures, timeline
    entries and milestones."""
    staff = make_member(roles=("product",))
    idea = make_idea()
    _dress(idea, tags=size, images=size)
    now = utcnow()
    people = [make_member() for _ in range(size)]
    for n, person in enumerate(people):
        _db.session.add(
            StatusChange(
                idea_id=idea.id,
                actor_id=person.id if n % 2 else None,
                from_status="open" if n else None,
                to_status="open",
                note=f"Step {n}",
                created_at=now + timedelta(seconds=n),
            )
        )
        _db.session.add(Milestone(idea_id=idea.id, threshold=n + 1, reached_at=now))
        if n % 2:
            _db.session.add(Profile(user_id=person.id, bio="", avatar_path=f"avatars/{n}.webp"))
    _db.session.commit()
    roots = []
    for n, person in enumerate(people):
        author = staff if n == 0 else person
        if n % 3 == 2:
            comment = community.post_comment(author, parent=roots[-1], body=f"Reply {n}")
        else:
            comment = community.post_comment(author, idea=idea, body=f"Comment {n}")
            roots.append(comment)
        _db.session.add(Reaction(comment_id=comment.id, user_id=people[0].id, emoji="🎉"))
        if reader is not None and n % 2 == 0:
            _db.session.add(Reaction(comment_id=comment.id, user_id=reader.id, emoji="💡"))
    _db.session.commit()
    community.mark_official(roots[0], actor=staff)
    if reader is not None:
        community.follow(reader, "idea", idea.id)
    return idea


def _supported_idea(size: int, *, challenge_id: int | None = None):
    """An open idea with ``size`` supporters, each following it."""
    idea = make_idea(vote_count=size, challenge_id=challenge_id)
    for _ in range(size):
        supporter = make_member()
        _db.session.add(Vote(idea_id=idea.id, voter_id=supporter.id))
        community._follow(supporter.id, "idea", idea.id)
    _db.session.commit()
    return idea


def _commented_idea(size: int):
    idea = make_idea()
    people = [make_member() for _ in range(size)]
    for n, person in enumerate(people):
        comment = community.post_comment(person, idea=idea, body=f"Comment {n}")
        _db.session.add(Reaction(comment_id=comment.id, user_id=people[0].id, emoji="👍"))
    _db.session.commit()
    return idea


def _notify(user: User, count: int) -> None:
    """``count`` notifications for ``user`` about count // 2 ideas (and a few about none), from
    different people, the older half read."""
    ideas = [make_idea() for _ in range(max(count // 2, 1))]
    now = utcnow()
    for n in range(count):
        actor = make_member()
        idea = ideas[n % len(ideas)] if n % 5 else None
        _db.session.add(
            Notification(
                recipient_id=user.id,
                kind="reply",
                actor_id=actor.id,
                idea_id=idea.id if idea else None,
                text=f"Notification {n}",
                url="/",
                created_at=now - timedelta(minutes=n),
                read_at=now if n >= count // 2 else None,
            )
        )
        if n % 2:
            _db.session.add(Profile(user_id=actor.id, bio="", avatar_path=f"avatars/a{n}.webp"))
    _db.session.commit()


# --- the board ------------------------------------------------------------------------------

BOARD_PATHS = [
    ("hot list (JSON)", "/api/v1/ideas"),
    ("top list (JSON)", "/api/v1/ideas?sort=top"),
    ("trending list (JSON)", "/api/v1/ideas?sort=trending"),
    ("search (JSON)", "/api/v1/ideas?q=solar"),
    ("hot list (HTML)", "/ideas"),
    ("top list (HTML)", "/ideas?sort=top"),
    ("trending list (HTML)", "/ideas?sort=trending"),
    ("search (HTML)", "/ideas?q=solar"),
    ("board swap (htmx)", "/ideas?sort=top"),
    ("home page", "/"),
]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(("label", "url"), BOARD_PATHS, ids=[label for label, _u in BOARD_PATHS])
def test_board_paths_stay_within_the_budget(sign_in, measure, reader, label, url):
    user, _headers = sign_in(reader)
    headers = {"HX-Request": "true", "HX-Target": "idea-list"} if "htmx" in label else {}
    counts = {}
    made = 0
    for size in SIZES:
        for idea in _board(size - made, voter=user, start=made):
            # The home page's feed (its people with and without pictures) and open challenges.
            _db.session.add(Activity(kind="idea_published", text="Shared", actor_id=idea.author_id))
            if idea.id % 2:
                _db.session.add(Profile(user_id=idea.author_id, bio="", avatar_path="a.webp"))
            make_challenge()
        made = size
        measure("GET", url, headers=headers)  # warm up
        response, counts[size] = measure("GET", url, headers=headers)
        assert response.status_code == 200
        if url.startswith("/api/"):
            assert len(response.get_json()["items"]) == size
    _report(f"{label}, {reader}", counts)


# --- one idea -------------------------------------------------------------------------------


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(
    ("label", "path"),
    [
        ("idea page (HTML)", "/ideas/{id}"),
        ("idea (JSON)", "/api/v1/ideas/{id}"),
        ("similar ideas (htmx)", "/ideas/{id}/similar"),
    ],
)
def test_idea_paths_stay_within_the_budget(sign_in, measure, reader, label, path):
    user, _headers = sign_in(reader)
    ideas = {size: _busy_idea(size, reader=user) for size in SIZES}
    measure("GET", path.format(id=ideas[SIZES[0]].id))  # warm up
    counts = {}
    for size, idea in ideas.items():
        response, counts[size] = measure("GET", path.format(id=idea.id))
        assert response.status_code == 200
    _report(f"{label}, {reader}", counts)


# --- support --------------------------------------------------------------------------------

# A vote: the token's person (with their balance), the vote row (written only where votes are
# taken: not one's own idea, an open status, an open challenge, so the idea is not read first),
# its counters and hot score in one UPDATE that answers with the idea, following the idea
# (community subscriber), and the points (rewards subscriber): one INSERT of a ledger entry
# whose amount SQL works out from the rule, its cap and the person; the database moves the
# balance with it. A withdrawal takes the points back in one INSERT too, and follows nothing.
# The htmx answer redraws the button from the idea the UPDATE returned.
VOTE_PATHS = [
    # label, method, path, headers, (budget, own)
    ("vote (API)", "PUT", "/api/v1/ideas/{id}/vote", {}, (5, 3)),
    ("withdrawal (API)", "DELETE", "/api/v1/ideas/{id}/vote", {}, (4, 2)),
    ("vote (htmx)", "POST", "/ideas/{id}/vote", {"HX-Request": "true"}, (5, 3)),
    ("withdrawal (htmx)", "POST", "/ideas/{id}/unvote", {"HX-Request": "true"}, (4, 2)),
    ("vote (form)", "POST", "/ideas/{id}/vote", {}, (5, 3)),
    ("vote in a challenge (API)", "PUT", "/api/v1/ideas/{id}/vote", {}, (5, 3)),
]


@pytest.mark.parametrize(
    ("label", "method", "path", "extra", "budgets"), VOTE_PATHS, ids=[p[0] for p in VOTE_PATHS]
)
def test_support_stays_within_the_budget(
    client, sign_in, measure, label, method, path, extra, budgets
):
    user, headers = sign_in("customer")
    challenge = make_challenge().id if "challenge" in label else None
    ideas = {size: _supported_idea(size, challenge_id=challenge) for size in SIZES}
    warm = _supported_idea(1, challenge_id=challenge)
    withdrawing = "withdrawal" in label or method == "DELETE"
    form = {"csrf_token": headers["X-CSRFToken"]}
    if withdrawing:  # supported through the service, so the points are there to take back
        for idea in [warm, *ideas.values()]:
            ideas_services.cast_vote(idea.id, voter=user)
    kwargs = {"headers": {**headers, **extra}}
    if method == "POST":
        kwargs["data"] = form
    measure(method, path.format(id=warm.id), **kwargs)  # warm up
    counts = {}
    for size, idea in ideas.items():
        response, counts[size] = measure(method, path.format(id=idea.id), **kwargs)
        assert response.status_code in (200, 302)
    budget, own = budgets
    _report(label, counts, budget=budget, own=own)


# --- the conversation -----------------------------------------------------------------------

# The person, the idea's comment counter (its UPDATE answers with the idea, which is not read
# before), the comment row, following the idea (community subscriber) and the points in one
# INSERT that also counts the person's paid comments for the badge (rewards subscriber). The API
# answers with the comment as written, by the person already loaded. The htmx answer redraws
# the whole conversation after the write: the thread in one more query.
COMMENT_PATHS = [
    # label, path, headers, (budget, own)
    ("comment (API)", "/api/v1/ideas/{id}/comments", {}, (5, 3)),
    ("comment (htmx)", "/ideas/{id}/comments", {"HX-Request": "true"}, (6, 4)),
    ("comment (form)", "/ideas/{id}/comments", {}, (5, 3)),
]


@pytest.mark.parametrize(
    ("label", "path", "extra", "budgets"), COMMENT_PATHS, ids=[p[0] for p in COMMENT_PATHS]
)
def test_commenting_stays_within_the_budget(sign_in, measure, label, path, extra, budgets):
    _user, headers = sign_in("customer")
    ideas = {size: _commented_idea(size) for size in SIZES}
    warm = _commented_idea(1)
    counts = {}
    for size, idea in [(0, warm), *ideas.items()]:
        kwargs = {"headers": {**headers, **extra}}
        if path.startswith("/api/"):
            kwargs["json"] = {"body": f"A new comment on {idea.id}"}
        else:
            kwargs["data"] = {"csrf_token": headers["X-CSRFToken"], "body": "A new comment"}
        response, statements = measure("POST", path.format(id=idea.id), **kwargs)
        assert response.status_code in (200, 201, 302), response.get_data(as_text=True)[:300]
        if size:
            counts[size] = statements
    budget, own = budgets
    _report(label, counts, budget=budget, own=own)


# --- notifications --------------------------------------------------------------------------


def test_notification_center_stays_within_the_budget(sign_in, measure):
    user, _headers = sign_in("customer")
    counts = {}
    made = 0
    for size in SIZES:
        _notify(user, size - made)
        made = size
        measure("GET", "/notifications")  # warm up
        response, counts[size] = measure("GET", "/notifications")
        assert response.status_code == 200
        assert response.get_data(as_text=True).count('class="cc-notice') >= size
    _report("notifications page", counts)
