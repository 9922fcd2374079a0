from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.community import services
from app.community.models import Activity, Follow, Notification
from app.database import utcnow
from app.errors import Conflict, Forbidden, ValidationFailed
from app.ideas import services as ideas
from tests.factories import make_category, make_idea, make_member


def notifications(db, user=None, kind=None) -> list[Notification]:
    stmt = select(Notification).order_by(Notification.id)
    if user is not None:
        stmt = stmt.where(Notification.recipient_id == user.id)
    if kind is not None:
        stmt = stmt.where(Notification.kind == kind)
    return list(db.session.scalars(stmt))


# --- comments ---------------------------------------------------------------------------------


def test_replies_form_a_thread_and_count_exactly(db):
    idea = make_idea()
    a, b = make_member(), make_member()
    first = services.post_comment(a, idea=idea, body="Love it")
    reply = services.post_comment(b, parent=first, body="Same here")
    deeper = services.post_comment(a, parent=reply, body="Thanks!")
    thread = services.thread(viewer=None, idea=idea)
    [root] = thread.roots
    assert root.comment.id == first.id
    assert root.replies[0].comment.id == reply.id
    assert root.replies[0].replies[0].comment.id == deeper.id
    assert deeper.depth == 2
    db.session.refresh(idea)
    assert idea.comment_count == 3 == thread.count


def test_deleting_leaves_a_placeholder_and_uncounts(db):
    idea = make_idea()
    author = make_member()
    comment = services.post_comment(author, idea=idea, body="Oops")
    reply = services.post_comment(make_member(), parent=comment, body="Reply stays")
    services.delete_comment(comment, actor=author)
    services.delete_comment(comment, actor=author)  # twice: no double uncount
    thread = services.thread(viewer=None, idea=idea)
    assert thread.roots[0].comment.is_deleted
    assert thread.roots[0].replies[0].comment.id == reply.id
    db.session.refresh(idea)
    assert idea.comment_count == 1 == thread.count


def test_only_author_or_moderator_edits_and_deletes(db):
    comment = services.post_comment(make_member(), idea=make_idea(), body="Mine")
    with pytest.raises(Forbidden):
        services.edit_comment(comment, editor=make_member(), body="Hijack")
    with pytest.raises(Forbidden):
        services.delete_comment(comment, actor=make_member())
    services.delete_comment(comment, actor=make_member(roles=("moderator",)))
    assert comment.is_deleted


def test_edits_keep_revisions_and_mark_edited(db):
    author = make_member()
    comment = services.post_comment(author, idea=make_idea(), body="Frist")
    services.edit_comment(comment, editor=author, body="First")
    assert comment.edited_at is not None
    assert comment.body == "First"
    from app.community.models import CommentRevision

    assert db.session.scalar(select(CommentRevision.body)) == "Frist"


@pytest.mark.parametrize("body", ["", "   ", "x" * 10_001])
def test_empty_or_huge_comments_are_refused(db, body):
    with pytest.raises(ValidationFailed):
        services.post_comment(make_member(), idea=make_idea(), body=body)


def test_no_reply_to_a_removed_comment(db):
    author = make_member()
    comment = services.post_comment(author, idea=make_idea(), body="Gone soon")
    services.delete_comment(comment, actor=author)
    with pytest.raises(Conflict):
        services.post_comment(make_member(), parent=comment, body="Hello?")


def test_markdown_in_comments_is_sanitised(db):
    comment = services.post_comment(
        make_member(), idea=make_idea(), body="**bold** <script>alert(1)</script>"
    )
    assert "<strong>bold</strong>" in comment.body_html
    assert "<script" not in comment.body_html


def test_staff_comments_carry_a_badge_and_one_is_official(db):
    idea = make_idea()
    product = make_member(roles=("product",))
    first = services.post_comment(product, idea=idea, body="We're on it")
    second = services.post_comment(product, idea=idea, body="Update: prototypes")
    customer_comment = services.post_comment(make_member(), idea=idea, body="Me too")
    assert first.by_staff
    assert not customer_comment.by_staff
    services.mark_official(first, actor=product)
    services.mark_official(second, actor=product)
    assert services.thread(viewer=None, idea=idea).official.id == second.id
    with pytest.raises(Conflict):
        services.mark_official(customer_comment, actor=product)
    with pytest.raises(Forbidden):
        services.mark_official(second, actor=make_member())


# --- mentions ---------------------------------------------------------------------------------


def test_mentions_link_known_people_and_notify_them(db):
    lena = make_member(display_name="Lena Fischer")
    author = make_member()
    comment = services.post_comment(
        author, idea=make_idea(), body="What do you think, @Lena Fischer? And @Nobody Here?"
    )
    assert f'href="/people/{lena.id}"' in comment.body_html
    assert "@Nobody Here" in comment.body_html
    [note] = notifications(db, lena, "mention")
    assert note.actor_id == author.id
    assert note.url.endswith(f"#comment-{comment.id}")
    assert notifications(db, kind="mention") == [note]


def test_ambiguous_and_unknown_names_stay_text(db):
    make_member(display_name="Sam")
    make_member(display_name="Sam")
    comment = services.post_comment(make_member(), idea=make_idea(), body="@Sam @Ghost hi")
    assert "href" not in comment.body_html
    assert notifications(db, kind="mention") == []


def test_the_longest_matching_name_wins(db):
    make_member(display_name="Mei")
    mei_lin = make_member(display_name="Mei Lin")
    assert [u.id for u in services.find_mentions("thanks @Mei Lin!")] == [mei_lin.id]


# --- reactions --------------------------------------------------------------------------------


def test_reactions_are_idempotent_and_counted(db):
    comment = services.post_comment(make_member(), idea=make_idea(), body="Nice")
    a, b = make_member(), make_member()
    services.react(comment, user=a, emoji="👍")
    services.react(comment, user=a, emoji="👍")
    counts = services.react(comment, user=b, emoji="👍")
    assert counts == {"👍": 2}
    assert services.react(comment, user=a, emoji="👍", on=False) == {"👍": 1}
    assert services.react(comment, user=a, emoji="👍", on=False) == {"👍": 1}
    with pytest.raises(ValidationFailed):
        services.react(comment, user=a, emoji="💩")


# --- follows and notifications ----------------------------------------------------------------


def test_submitting_supporting_and_commenting_follow_the_idea(db):
    author, voter, commenter = make_member(), make_member(), make_member()
    idea = ideas.submit_idea(author, title="Followed idea", body="x")
    ideas.cast_vote(idea.id, voter=voter)
    services.post_comment(commenter, idea=idea, body="Hi")
    assert services.followers("idea", idea.id) == {author.id, voter.id, commenter.id}
    services.follow(voter, "idea", idea.id, on=False)
    assert services.followers("idea", idea.id) == {author.id, commenter.id}


def test_status_change_notifies_each_follower_once_and_never_the_actor(db):
    author, voter = make_member(), make_member()
    product = make_member(roles=("product",))
    idea = ideas.submit_idea(author, title="Status idea", body="x")
    ideas.cast_vote(idea.id, voter=voter)
    services.follow(product, "idea", idea.id)
    services.follow(voter, "idea", idea.id)  # already following: still one notification
    ideas.change_status(idea, actor=product, to="under_review")
    recipients = sorted(n.recipient_id for n in notifications(db, kind="status"))
    assert recipients == sorted([author.id, voter.id])


def test_reply_notifies_the_parent_author_not_the_replier(db):
    idea = make_idea()
    parent_author, replier = make_member(), make_member()
    parent = services.post_comment(parent_author, idea=idea, body="Question?")
    services.post_comment(replier, parent=parent, body="Answer.")
    services.post_comment(parent_author, parent=parent, body="Self reply")
    assert [n.recipient_id for n in notifications(db, kind="reply")] == [parent_author.id]


def test_new_idea_in_a_followed_category_is_announced(db):
    kitchen = make_category("Kitchen")
    fan = make_member()
    services.follow(fan, "category", kitchen.id)
    idea = ideas.submit_idea(make_member(), title="Kitchen thing", body="x", category_id=kitchen.id)
    [note] = notifications(db, fan, "new_idea")
    assert note.idea_id == idea.id


def test_merge_moves_followers_and_tells_supporters(db):
    source, target = make_idea(), make_idea()
    follower, supporter = make_member(), make_member()
    services.follow(follower, "idea", source.id)
    ideas.cast_vote(source.id, voter=supporter)
    ideas.merge_ideas(source, into=target, actor=make_member(roles=("moderator",)))
    assert {follower.id, supporter.id} <= services.followers("idea", target.id)
    assert services.followers("idea", source.id) == set()
    told = {n.recipient_id for n in notifications(db, kind="merge")}
    assert {follower.id, supporter.id, source.author_id} <= told


def test_unread_count_and_mark_read(db):
    user = make_member()
    services.notify({user.id}, kind="milestone", actor=None, text="One", url="/")
    services.notify({user.id}, kind="milestone", actor=None, text="Two", url="/")
    assert services.unread_count(user) == 2
    first = notifications(db, user)[0]
    assert services.mark_read(user, [first.id]) == 1
    assert services.unread_count(user) == 1
    assert services.mark_read(user) == 1
    assert services.unread_count(user) == 0


def unread_rows(db, user) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.recipient_id == user.id, Notification.read_at.is_(None))
    )


def test_the_stored_unread_counter_equals_a_recount(db):
    from app.accounts.models import User

    people = [make_member() for _ in range(3)]
    actor = make_member()
    for n in range(4):
        services.notify(
            {p.id for p in people[: n + 1]}, kind="status", actor=actor, text="T", url="/"
        )
    services.notify({actor.id, people[0].id}, kind="status", actor=actor, text="Self", url="/")
    db.session.commit()
    first = notifications(db, people[0])
    assert services.mark_read(people[0], [first[0].id, first[1].id]) == 2
    assert services.mark_read(people[0], [first[0].id]) == 0  # read already: no change
    assert services.mark_read(people[1]) == 3
    assert services.mark_read(people[1]) == 0
    db.session.expire_all()
    stored = {p.id: db.session.get(User, p.id).unread_notifications for p in [*people, actor]}
    assert stored == {p.id: unread_rows(db, p) for p in [*people, actor]}
    assert stored == {people[0].id: 3, people[1].id: 0, people[2].id: 2, actor.id: 0}
    services.recount_unread()
    db.session.expire_all()
    assert {p.id: db.session.get(User, p.id).unread_notifications for p in people} == {
        p.id: stored[p.id] for p in people
    }


def test_recount_repairs_a_counter_that_drifted(db):
    from sqlalchemy import update

    from app.accounts.models import User

    person = make_member()
    services.notify({person.id}, kind="status", actor=None, text="One", url="/")
    db.session.execute(update(User).where(User.id == person.id).values(unread_notifications=7))
    db.session.commit()
    services.recount_unread([person.id])
    assert services.unread_count(person) == 1


def test_the_thread_says_whether_the_viewer_follows_with_or_without_comments(db):
    reader, quiet, busy = make_member(), make_idea(), make_idea()
    services.post_comment(make_member(), idea=busy, body="Hello")
    assert services.thread(viewer=reader, idea=quiet).following is False
    services.follow(reader, "idea", quiet.id)
    services.follow(reader, "idea", busy.id)
    assert services.thread(viewer=reader, idea=quiet).following is True
    assert (
        services.thread(viewer=reader, idea=quiet).count,
        services.thread(viewer=reader, idea=quiet).roots,
    ) == (0, [])
    assert services.thread(viewer=reader, idea=busy).following is True
    assert services.thread(viewer=None, idea=busy).following is False


def test_the_thread_counts_reactions_and_marks_the_viewers_own(db):
    idea = make_idea()
    reader, others = make_member(), [make_member() for _ in range(3)]
    services.update_profile(others[0], bio="")
    first = services.post_comment(others[0], idea=idea, body="First")
    second = services.post_comment(others[1], idea=idea, body="Second")
    for person in others:
        services.react(first, user=person, emoji="🎉")
    services.react(first, user=reader, emoji="💡")
    services.react(first, user=reader, emoji="🎉")
    [one, two] = services.thread(viewer=reader, idea=idea).roots
    assert (one.comment.id, one.reactions, one.mine) == (first.id, {"🎉": 4, "💡": 1}, {"🎉", "💡"})
    assert (two.comment.id, two.reactions, two.mine) == (second.id, {}, set())
    anonymous = services.thread(viewer=None, idea=idea).roots[0]
    assert (anonymous.reactions, anonymous.mine) == ({"🎉": 4, "💡": 1}, set())


def test_no_mail_without_consent(db, outbox):
    user = make_member()
    services.notify({user.id}, kind="reply", actor=None, text="Hello", url="/")
    assert [m for m in outbox() if m.to_address == user.email] == []


def test_immediate_mail_with_consent_and_never_when_asked(db, outbox):
    user = make_member()
    services.set_email_consent(user, granted=True)
    services.notify({user.id}, kind="reply", actor=None, text="Replied", url="/ideas/1")
    assert [m.kind for m in outbox() if m.to_address == user.email] == ["notification_reply"]
    services.set_preferences(user, {"reply": "never"})
    services.notify({user.id}, kind="reply", actor=None, text="Again", url="/ideas/1")
    assert len([m for m in outbox() if m.to_address == user.email]) == 1


def test_daily_notifications_go_out_in_one_digest(db, outbox):
    user, silent = make_member(), make_member()
    services.set_email_consent(user, granted=True)
    for text in ("First", "Second"):
        services.notify({user.id, silent.id}, kind="milestone", actor=None, text=text, url="/")
    assert services.send_digests() == 1
    [digest] = [m for m in outbox() if m.kind == "digest"]
    assert digest.to_address == user.email
    assert "First" in digest.body_text
    assert "Second" in digest.body_text
    assert services.send_digests() == 0  # nothing new
    services.notify({user.id}, kind="milestone", actor=None, text="Third", url="/")
    assert services.send_digests() == 0  # less than a day after the last digest
    assert services.send_digests(utcnow() + timedelta(days=1)) == 1


def test_bad_preferences_are_refused(db):
    with pytest.raises(ValidationFailed):
        services.set_preferences(make_member(), {"reply": "hourly"})


# --- feed -------------------------------------------------------------------------------------


def test_feed_records_publications_and_filters_to_what_one_follows(db):
    kitchen = make_category("Kitchen")
    viewer = make_member()
    followed = ideas.submit_idea(
        make_member(), title="In my category", body="x", category_id=kitchen.id
    )
    ideas.submit_idea(make_member(), title="Elsewhere entirely", body="x")
    services.follow(viewer, "category", kitchen.id)
    everything = services.feed()
    mine = services.feed(viewer=viewer, following=True)
    assert len(everything) == 2
    assert [a.idea_id for a in mine] == [followed.id]
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 2
    assert db.session.scalar(select(func.count()).select_from(Follow)) >= 3


def test_mentions_never_reveal_a_pending_idea(db):
    from app.community.models import Notification as N

    outsider = make_member(display_name="Bob Outsider")
    idea = make_idea(status="pending")
    services.post_comment(idea.author, idea=idea, body="What do you think, @Bob Outsider?")
    assert (
        db.session.scalar(select(func.count()).select_from(N).where(N.recipient_id == outsider.id))
        == 0
    )


def test_a_digest_is_not_postponed_by_notifications_mailed_otherwise(db, outbox):
    user = make_member()
    services.set_email_consent(user, granted=True)
    services.set_preferences(user, {"reply": "daily", "new_idea": "never"})
    services.notify({user.id}, kind="reply", actor=None, text="A reply", url="/")
    services.notify({user.id}, kind="new_idea", actor=None, text="Not mailed", url="/")
    assert services.send_digests() == 1
    [digest] = [m for m in outbox() if m.kind == "digest"]
    assert "A reply" in digest.body_text


def test_removing_a_comment_twice_uncounts_it_once(db):
    idea = make_idea()
    author = make_member()
    comment = services.post_comment(author, idea=idea, body="Twice")
    services.delete_comment(comment, actor=author)
    services.delete_comment(comment, actor=make_member(roles=("moderator",)))
    db.session.refresh(idea)
    assert idea.comment_count == 0


def test_deleting_a_category_drops_its_follows(db):
    from app.ideas import services as ideas_services

    category = make_category("Short lived")
    fan = make_member()
    services.follow(fan, "category", category.id)
    ideas_services.delete_category(category, actor=make_member(roles=("admin",)))
    assert db.session.scalar(select(func.count()).select_from(Follow)) == 0


def test_mentioned_names_are_found_by_index(db):
    """A mention looks people up by lower(display_name): an index, not a walk of every person."""
    from sqlalchemy import insert, text

    from app.accounts.models import User
    from tests.ideas.test_indexes import full_scans_of, plan_of

    db.session.execute(
        insert(User),
        [
            {"email": f"p{n}@example.com", "display_name": f"Person {n}", "password_hash": "x"}
            for n in range(300)
        ],
    )
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    captured = []
    original = db.session.scalars

    def spy(statement, *args, **kwargs):
        captured.append(statement)
        return original(statement, *args, **kwargs)

    db.session.scalars = spy
    try:
        [found] = services.find_mentions("Thanks @Person 12!")
    finally:
        del db.session.scalars
    assert found.display_name == "Person 12"
    plan = plan_of(captured[0])
    assert full_scans_of("users", plan) == [], plan
    assert "INDEX" in plan.upper(), plan  # SQLite: USING INDEX; PostgreSQL: Index Scan
