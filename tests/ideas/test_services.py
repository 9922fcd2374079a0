from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.database import utcnow
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.ideas import events, services
from app.ideas.models import Idea, IdeaRevision, Milestone, StatusChange, Vote
from tests.factories import make_category, make_challenge, make_idea, make_member


def vote_rows(db, idea) -> int:
    return db.session.scalar(select(func.count()).where(Vote.idea_id == idea.id))


# --- submitting -------------------------------------------------------------------------------


def test_submitted_idea_is_open_rendered_and_recorded(db):
    author = make_member()
    category = make_category("Kitchen")
    published = []
    with events.idea_published.connected_to(lambda idea, **kw: published.append(idea.id)):
        idea = services.submit_idea(
            author,
            title="  A quieter   blender ",
            body="It should **whisper**.",
            category_id=category.id,
            tags="Quiet, kitchen ,quiet",
        )
    assert idea.status == "open"
    assert idea.title == "A quieter blender"
    assert "<strong>whisper</strong>" in idea.body_html
    assert [t.name for t in idea.tags] == ["kitchen", "quiet"]
    assert idea.category.name == "Kitchen"
    assert published == [idea.id]
    assert [c.to_status for c in services.history_of(idea).timeline] == ["open"]


def test_premoderated_idea_waits_and_is_hidden_from_others(db, app, monkeypatch):
    monkeypatch.setitem(app.config, "IDEAS_PREMODERATION", True)
    author, stranger = make_member(), make_member()
    idea = services.submit_idea(author, title="Pending idea", body="Body")
    assert idea.status == "pending"
    assert services.can_see(author, idea)
    assert not services.can_see(stranger, idea)
    assert services.can_see(make_member(roles=("moderator",)), idea)


@pytest.mark.parametrize(
    ("title", "body", "tags", "field"),
    [
        ("Tiny", "Body", None, "title"),
        ("x" * 141, "Body", None, "title"),
        ("A good title", "   ", None, "body"),
        ("A good title", "Body", "a,b,c,d,e,f", "tags"),
        ("A good title", "Body", "no spaces allowed!", "tags"),
    ],
)
def test_invalid_idea_is_refused_and_nothing_written(db, title, body, tags, field):
    with pytest.raises(ValidationFailed) as error:
        services.submit_idea(make_member(), title=title, body=body, tags=tags)
    assert field in error.value.fields
    assert db.session.scalar(select(func.count()).select_from(Idea)) == 0


def test_ideas_cannot_enter_a_closed_challenge(db):
    challenge = make_challenge(open_now=False)
    with pytest.raises(Conflict) as error:
        services.submit_idea(
            make_member(), title="Late idea", body="Body", challenge_id=challenge.id
        )
    assert error.value.code == "challenge_closed"


def test_submitting_into_a_challenge_counts_it(db):
    challenge = make_challenge()
    services.submit_idea(
        make_member(), title="Challenge idea", body="Body", challenge_id=challenge.id
    )
    db.session.refresh(challenge)
    assert challenge.idea_count == 1


def test_author_edits_keep_a_revision(db):
    author = make_member()
    idea = services.submit_idea(author, title="First title", body="First body")
    services.edit_idea(idea, editor=author, title="Second title", body="Second body")
    [revision] = db.session.scalars(select(IdeaRevision)).all()
    assert (revision.title, revision.body) == ("First title", "First body")
    assert idea.title == "Second title"


def test_others_cannot_edit_and_authors_stop_after_review(db):
    author = make_member()
    idea = make_idea(author)
    with pytest.raises(Forbidden):
        services.edit_idea(idea, editor=make_member(), title="Hijacked", body="x")
    idea.status = "under_review"
    db.session.commit()
    with pytest.raises(Conflict):
        services.edit_idea(idea, editor=author, title="Too late now", body="x")


# --- voting -----------------------------------------------------------------------------------


def _support(support: services.Support) -> tuple[int, bool, int]:
    return support.vote_count, support.voted, support.idea.vote_count


def test_vote_counts_once_and_withdraw_uncounts(db):
    idea, voter = make_idea(), make_member()
    assert _support(services.cast_vote(idea.id, voter=voter)) == (1, True, 1)
    assert _support(services.cast_vote(idea.id, voter=voter)) == (1, True, 1)
    assert vote_rows(db, idea) == 1
    assert _support(services.withdraw_vote(idea.id, voter=voter)) == (0, False, 0)
    assert _support(services.withdraw_vote(idea.id, voter=voter)) == (0, False, 0)
    db.session.refresh(idea)
    assert (idea.vote_count, idea.recent_vote_count, vote_rows(db, idea)) == (0, 0, 0)


def test_vote_raises_the_hot_score(db):
    idea = make_idea()
    before = idea.hot_score
    for _ in range(10):
        services.cast_vote(idea.id, voter=make_member())
    db.session.refresh(idea)
    assert idea.hot_score == pytest.approx(before + 1.0)


def test_a_vote_sets_the_hot_score_from_the_idea_itself(db):
    """A score left wrong (ideas loaded in bulk before `ideas rescore`) is right after a vote."""
    idea = make_idea()
    db.session.execute(update(Idea).where(Idea.id == idea.id).values(hot_score=0.0))
    db.session.commit()
    services.cast_vote(idea.id, voter=make_member())
    db.session.refresh(idea)
    assert idea.hot_score == pytest.approx(services.hot_score(1, idea.created_at), abs=1e-6)


def test_withdrawing_from_ones_own_idea_changes_nothing(db):
    author = make_member()
    idea = make_idea(author)
    support = services.withdraw_vote(idea.id, voter=author)
    assert (support.vote_count, support.voted) == (0, False)


def test_nobody_supports_their_own_idea(db):
    author = make_member()
    idea = make_idea(author)
    with pytest.raises(Forbidden) as error:
        services.cast_vote(idea.id, voter=author)
    assert error.value.code == "own_idea"


@pytest.mark.parametrize("status", ["pending", "declined", "merged", "shipped"])
def test_closed_statuses_take_no_votes(db, status):
    idea = make_idea(status=status)
    moderator = make_member(roles=("moderator",))  # sees a pending idea too
    with pytest.raises(Conflict) as error:
        services.cast_vote(idea.id, voter=moderator)
    assert error.value.code == "voting_closed"
    assert vote_rows(db, idea) == 0


def test_a_vote_on_an_idea_one_cannot_see_finds_no_idea(db):
    idea = make_idea(status="pending")
    with pytest.raises(NotFound):
        services.cast_vote(idea.id, voter=make_member())
    with pytest.raises(NotFound):
        services.cast_vote(idea.id + 1000, voter=make_member())
    assert vote_rows(db, idea) == 0


def test_support_cannot_be_withdrawn_once_voting_closed(db):
    idea, voter = make_idea(), make_member()
    services.cast_vote(idea.id, voter=voter)
    idea.status = "declined"
    db.session.commit()
    with pytest.raises(Conflict) as error:
        services.withdraw_vote(idea.id, voter=voter)
    assert error.value.code == "voting_closed"
    db.session.refresh(idea)
    assert (idea.vote_count, vote_rows(db, idea)) == (1, 1)


def test_closed_challenge_takes_no_votes(db):
    challenge = make_challenge(open_now=False)
    idea = make_idea(challenge_id=challenge.id)
    with pytest.raises(Conflict):
        services.cast_vote(idea.id, voter=make_member())


def test_vote_cast_event_carries_the_new_count(db):
    idea = make_idea()
    seen = []
    with events.vote_cast.connected_to(lambda idea, **kw: seen.append(kw["vote_count"])):
        services.cast_vote(idea.id, voter=make_member())
        services.cast_vote(idea.id, voter=make_member())
    assert seen == [1, 2]


def test_milestones_are_recorded_once_and_the_threshold_starts_review(db, app, monkeypatch):
    monkeypatch.setitem(app.config, "IDEA_MILESTONES", (2, 3))
    monkeypatch.setitem(app.config, "IDEA_REVIEW_THRESHOLD", 3)
    idea = make_idea()
    voters = [make_member() for _ in range(3)]
    reached = []
    with events.milestone_reached.connected_to(
        lambda idea, **kw: reached.append(kw["milestone"].threshold)
    ):
        services.cast_vote(idea.id, voter=voters[0])
        services.cast_vote(idea.id, voter=voters[1])
        services.withdraw_vote(idea.id, voter=voters[1])
        services.cast_vote(idea.id, voter=voters[1])
        services.cast_vote(idea.id, voter=voters[2])
    assert reached == [2, 3]
    assert db.session.scalar(select(func.count()).select_from(Milestone)) == 2
    db.session.refresh(idea)
    assert idea.status == "under_review"
    automatic = services.history_of(idea).timeline[-1]
    assert (automatic.actor_name, automatic.to_status) == (None, "under_review")
    assert [m.threshold for m in services.history_of(idea).milestones] == [2, 3]


# --- workflow ---------------------------------------------------------------------------------


def test_product_team_moves_an_idea_to_adoption_with_a_timeline(db):
    product = make_member(roles=("product",))
    idea = make_idea()
    for status in ("under_review", "shortlisted", "adopted", "in_production", "shipped"):
        services.change_status(idea, actor=product, to=status)
    assert [c.to_status for c in services.history_of(idea).timeline] == [
        "under_review",
        "shortlisted",
        "adopted",
        "in_production",
        "shipped",
    ]


def test_illegal_transition_is_a_conflict(db):
    idea = make_idea()
    with pytest.raises(services.IllegalTransition) as error:
        services.change_status(idea, actor=make_member(roles=("admin",)), to="shipped")
    assert error.value.status == 409
    db.session.refresh(idea)
    assert idea.status == "open"


def test_customers_and_moderators_cannot_adopt(db):
    idea = make_idea(status="shortlisted")
    for person in (make_member(), make_member(roles=("moderator",))):
        with pytest.raises(Forbidden):
            services.change_status(idea, actor=person, to="adopted")


def test_declining_needs_a_reason_and_keeps_it(db):
    moderator = make_member(roles=("moderator",))
    idea = make_idea()
    with pytest.raises(ValidationFailed):
        services.change_status(idea, actor=moderator, to="declined")
    services.change_status(idea, actor=moderator, to="declined", note="Out of scope.")
    assert idea.decline_reason == "Out of scope."


def test_status_change_can_pin_an_official_response(db):
    product = make_member(roles=("product",))
    idea = make_idea()
    changes = []
    with events.idea_status_changed.connected_to(lambda idea, **kw: changes.append(kw)):
        services.change_status(
            idea,
            actor=product,
            to="under_review",
            official_response="We are **testing** prototypes.",
        )
    assert "<strong>testing</strong>" in idea.official_response_html
    assert idea.official_response_by_id == product.id
    assert changes[0]["change"].from_status == "open"


# --- merging ----------------------------------------------------------------------------------


def test_merge_moves_supporters_counting_shared_ones_once(db):
    moderator = make_member(roles=("moderator",))
    source_author, target_author = make_member(), make_member()
    source, target = make_idea(source_author), make_idea(target_author)
    both, only_source, only_target = make_member(), make_member(), make_member()
    for voter in (both, only_source):
        services.cast_vote(source.id, voter=voter)
    for voter in (both, only_target):
        services.cast_vote(target.id, voter=voter)

    merge = services.merge_ideas(source, into=target, actor=moderator)

    db.session.refresh(source)
    db.session.refresh(target)
    assert source.status == "merged"
    assert source.merged_into_id == target.id
    assert (source.vote_count, vote_rows(db, source)) == (0, 0)
    # both + only_target + only_source + the source's author
    assert (target.vote_count, vote_rows(db, target)) == (4, 4)
    assert merge.moved_votes == 2
    assert services.history_of(target).merges[0].source_id == source.id
    assert services.history_of(source).merges[0].target_title == target.title


def test_only_moderators_merge_and_not_into_itself(db):
    idea, other = make_idea(), make_idea()
    with pytest.raises(Forbidden):
        services.merge_ideas(idea, into=other, actor=make_member(roles=("product",)))
    with pytest.raises(ValidationFailed):
        services.merge_ideas(idea, into=idea, actor=make_member(roles=("moderator",)))


# --- discovery --------------------------------------------------------------------------------


def test_sorts_order_ideas_as_named(db):
    old_popular = make_idea(
        title="Old popular",
        vote_count=50,
        recent_vote_count=0,
        created_at=utcnow() - timedelta(days=30),
    )
    fresh = make_idea(title="Fresh", created_at=utcnow())
    trending = make_idea(
        title="Trending",
        vote_count=10,
        recent_vote_count=10,
        created_at=utcnow() - timedelta(days=3),
    )
    titles = {
        sort: [i.title for i in services.list_ideas(viewer=None, sort=sort).items]
        for sort in services.SORTS
    }
    assert titles["top"] == ["Old popular", "Trending", "Fresh"]
    assert titles["new"] == ["Fresh", "Trending", "Old popular"]
    assert titles["trending"][0] == "Trending"
    assert titles["hot"][-1] == "Old popular"
    assert {old_popular.id, fresh.id, trending.id}


def test_list_hides_pending_declined_and_merged_by_default(db):
    make_idea(title="Visible one")
    for status in ("pending", "declined", "merged"):
        make_idea(title=f"Hidden {status}", status=status)
    assert [i.title for i in services.list_ideas(viewer=None).items] == ["Visible one"]
    declined = services.list_ideas(viewer=None, status="declined").items
    assert [i.title for i in declined] == ["Hidden declined"]


def test_full_text_search_ranks_title_matches_first(db):
    make_idea(title="Solar charger for bikes", body="Charge a phone while riding.")
    make_idea(title="Reusable coffee cup", body="Works with a solar dryer too.")
    make_idea(title="Garden planter", body="Self watering.")
    found = [i.title for i in services.list_ideas(viewer=None, q="solar").items]
    assert found == ["Solar charger for bikes", "Reusable coffee cup"]


def test_search_follows_edits(db):
    author = make_member()
    idea = services.submit_idea(author, title="Umbrella with lights", body="Glows at night.")
    services.edit_idea(idea, editor=author, title="Raincoat with lights", body="Glows.")
    assert services.list_ideas(viewer=None, q="umbrella").items == []
    assert [i.id for i in services.list_ideas(viewer=None, q="raincoat").items] == [idea.id]


def test_similar_ideas_match_any_word(db):
    make_idea(title="Foldable electric scooter")
    make_idea(title="Scooter helmet with lights")
    make_idea(title="Houseplant sensor")
    similar = [i.title for i in services.similar_ideas("scooter for kids")]
    assert sorted(similar) == ["Foldable electric scooter", "Scooter helmet with lights"]


def test_filters_by_category_tag_and_challenge(db):
    kitchen = make_category("Kitchen")
    challenge = make_challenge()
    author = make_member()
    a = services.submit_idea(
        author, title="Kitchen idea", body="x", category_id=kitchen.id, tags="cooking"
    )
    b = services.submit_idea(author, title="Challenge idea", body="x", challenge_id=challenge.id)
    ids = lambda **f: [i.id for i in services.list_ideas(viewer=None, **f).items]  # noqa: E731
    assert ids(category="kitchen") == [a.id]
    assert ids(tag="cooking") == [a.id]
    assert ids(challenge=challenge.id) == [b.id]


def test_paging_reports_whether_more_follow(db):
    for _ in range(5):
        make_idea()
    first = services.list_ideas(viewer=None, sort="new", per_page=2)
    last = services.list_ideas(viewer=None, sort="new", per_page=2, page=3)
    assert (len(first.items), first.has_next) == (2, True)
    assert (len(last.items), last.has_next) == (1, False)


def test_rescore_recounts_recent_support(db):
    idea = make_idea()
    voter = make_member()
    services.cast_vote(idea.id, voter=voter)
    db.session.execute(Vote.__table__.update().values(created_at=utcnow() - timedelta(days=8)))
    db.session.commit()
    services.rescore_ideas()
    db.session.refresh(idea)
    assert (idea.vote_count, idea.recent_vote_count) == (1, 0)


def test_closing_a_challenge_picks_the_winner_once(db):
    challenge = make_challenge()
    winner, runner_up = (
        make_idea(challenge_id=challenge.id, vote_count=5),
        make_idea(challenge_id=challenge.id, vote_count=2),
    )
    closed = []
    with events.challenge_closed.connected_to(lambda c, **kw: closed.append(c.id)):
        assert services.close_due_challenges(utcnow() + timedelta(days=8)) == [challenge]
        assert services.close_due_challenges(utcnow() + timedelta(days=9)) == []
    assert closed == [challenge.id]
    assert challenge.winner_idea_id == winner.id != runner_up.id
    assert db.session.scalar(select(func.count()).select_from(StatusChange)) == 0


# --- the hot formula --------------------------------------------------------------------------


def test_hot_score_is_log_support_plus_age_in_two_day_units():
    from datetime import UTC, datetime

    epoch = datetime(2024, 1, 1, tzinfo=UTC)
    assert services.hot_score(0, epoch) == 0.0
    assert services.hot_score(1, epoch) == 0.0
    assert services.hot_score(100, epoch) == pytest.approx(2.0)
    assert services.hot_score(10, epoch + timedelta(days=2)) == pytest.approx(2.0)


def test_a_newer_idea_needs_tenfold_less_support_per_two_days():
    now = utcnow()
    old = services.hot_score(1000, now - timedelta(days=4))
    new = services.hot_score(10, now)
    assert new == pytest.approx(old)
    assert services.hot_score(11, now) > old


def test_the_review_threshold_works_even_when_not_a_milestone(db, app, monkeypatch):
    monkeypatch.setitem(app.config, "IDEA_MILESTONES", (10,))
    monkeypatch.setitem(app.config, "IDEA_REVIEW_THRESHOLD", 2)
    idea = make_idea()
    for _ in range(2):
        services.cast_vote(idea.id, voter=make_member())
    db.session.refresh(idea)
    assert idea.status == "under_review"


def test_a_challenge_counts_only_published_ideas(db, app, monkeypatch):
    monkeypatch.setitem(app.config, "IDEAS_PREMODERATION", True)
    challenge = make_challenge()
    idea = services.submit_idea(
        make_member(), title="Waiting idea", body="x", challenge_id=challenge.id
    )
    db.session.refresh(challenge)
    assert challenge.idea_count == 0
    services.change_status(idea, actor=make_member(roles=("moderator",)), to="open")
    db.session.refresh(challenge)
    assert challenge.idea_count == 1
