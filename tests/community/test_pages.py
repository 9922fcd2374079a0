"""The conversation, follows, mentions, notifications and the feed, through their pages."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from flask import render_template
from sqlalchemy import select

from app.community import services
from app.community.models import Comment
from app.extensions import db as _db
from tests.factories import make_challenge, make_idea, make_member

HTMX = {"HX-Request": "true"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _Finder(HTMLParser):
    def __init__(self, target: str) -> None:
        super().__init__(convert_charrefs=True)
        self.target, self.depth, self.start, self.end = target, 0, None, None

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag, attrs) -> None:
        if self.end is not None or tag in VOID:
            return
        if self.start is None:
            if dict(attrs).get("id") == self.target:
                self.start, self.depth = self._offset(), 1
        else:
            self.depth += 1

    def handle_endtag(self, tag) -> None:
        if self.start is not None and self.end is None and tag not in VOID:
            self.depth -= 1
            if self.depth == 0:
                self.end = self._offset()


def element(html: str, element_id: str) -> str | None:
    """The markup of the element with this id (its closing tag left off), or None."""
    finder = _Finder(element_id)
    finder.line_starts = [0]
    for line in html.splitlines(keepends=True):
        finder.line_starts.append(finder.line_starts[-1] + len(line))
    finder.feed(html)
    finder.close()
    if finder.start is None:
        return None
    return html[finder.start : finder.end]


def comments_of(idea) -> list[Comment]:
    _db.session.expire_all()
    return list(
        _db.session.scalars(select(Comment).where(Comment.idea_id == idea.id).order_by(Comment.id))
    )


# --- posting ----------------------------------------------------------------------------------


def test_a_comment_posted_from_the_idea_page_shows_in_the_thread(client, db, login):
    idea = make_idea()
    member = make_member()
    login(member)
    assert comments_of(idea) == []
    response = client.post_form(f"/ideas/{idea.id}/comments", {"body": "Make it **blue**"})
    [comment] = comments_of(idea)
    assert response.status_code == 302
    assert (
        response.headers["Location"]
        == f"/ideas/{idea.id}?comment={comment.id}#comment-{comment.id}"
    )
    thread = element(client.get(f"/ideas/{idea.id}").get_data(as_text=True), "comments")
    assert "Make it <strong>blue</strong>" in element(thread, f"comment-{comment.id}")


def test_a_reply_is_nested_under_the_comment_it_answers(client, db, login):
    idea = make_idea()
    first = services.post_comment(make_member(), idea=idea, body="What colour?")
    login(make_member())
    response = client.post_form(
        f"/ideas/{idea.id}/comments", {"body": "Blue, please", "parent_id": str(first.id)}
    )
    reply = comments_of(idea)[-1]
    assert response.status_code == 302
    assert (reply.parent_id, reply.depth) == (first.id, 1)
    page = client.get(f"/ideas/{idea.id}").get_data(as_text=True)
    assert "Blue, please" in element(page, f"replies-{first.id}")


def test_a_reply_over_htmx_answers_with_the_thread_and_focuses_the_new_reply(client, db, login):
    idea = make_idea()
    first = services.post_comment(make_member(), idea=idea, body="What colour?")
    login(make_member())
    response = client.post_form(
        f"/ideas/{idea.id}/comments",
        {"body": "Green", "parent_id": str(first.id)},
        headers=HTMX,
    )
    reply = comments_of(idea)[-1]
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card cc-conversation" id="conversation"')
    assert "autofocus" in element(html, f"comment-{reply.id}-main")[:200]


@pytest.mark.parametrize("body", ["", "   ", "x" * 10_001], ids=["empty", "blank", "too-long"])
def test_a_bad_comment_over_htmx_is_refused_inline_with_422(client, db, login, body):
    idea = make_idea()
    login(make_member())
    response = client.post_form(f"/ideas/{idea.id}/comments", {"body": body}, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="comment-body-new-error"' in html
    assert 'aria-invalid="true"' in element(html, "comment-body-new")[:600]
    assert comments_of(idea) == []


def test_an_empty_comment_without_javascript_gets_a_page_with_the_error(client, db, login):
    idea = make_idea()
    login(make_member())
    response = client.post_form(f"/ideas/{idea.id}/comments", {"body": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Write something first." in element(html, "comment-body-error")
    assert f'action="/ideas/{idea.id}/comments"' in html


def test_a_reply_to_a_removed_comment_is_refused_with_a_notice(client, db, login):
    idea = make_idea()
    author = make_member()
    first = services.post_comment(author, idea=idea, body="Oops")
    services.delete_comment(first, actor=author)
    login(make_member())
    response = client.post_form(
        f"/ideas/{idea.id}/comments", {"body": "Hello?", "parent_id": str(first.id)}, headers=HTMX
    )
    assert response.status_code == 409
    assert "That comment was removed" in response.get_data(as_text=True)
    assert len(comments_of(idea)) == 1


def test_a_reply_must_belong_to_the_same_idea(client, db, login):
    elsewhere = services.post_comment(make_member(), idea=make_idea(), body="Elsewhere")
    idea = make_idea()
    login(make_member())
    response = client.post_form(
        f"/ideas/{idea.id}/comments", {"body": "Hi", "parent_id": str(elsewhere.id)}
    )
    assert response.status_code == 404
    assert comments_of(idea) == []


def test_nobody_comments_on_an_idea_they_cannot_see(client, db, login):
    idea = make_idea(status="pending")
    login(make_member())
    response = client.post_form(f"/ideas/{idea.id}/comments", {"body": "Sneaky"})
    assert response.status_code == 404
    assert comments_of(idea) == []
    _db.session.refresh(idea)
    assert idea.comment_count == 0


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["form", "htmx"])
def test_a_form_with_errors_on_an_idea_one_cannot_see_shows_nothing_of_it(
    client, db, login, headers
):
    idea = make_idea(status="pending", title="A secret plan for lamps")
    login(make_member())
    response = client.post_form(f"/ideas/{idea.id}/comments", {"body": "   "}, headers=headers)
    assert response.status_code == 404
    assert "secret plan" not in response.get_data(as_text=True)


def test_anonymous_visitors_get_a_login_link_instead_of_the_form(client, db):
    idea = make_idea()
    html = client.get(f"/ideas/{idea.id}").get_data(as_text=True)
    conversation = element(html, "conversation")
    assert 'id="comment-body-new"' not in conversation
    assert f"/login?next=/ideas/{idea.id}%23conversation" in conversation


def test_the_idea_panel_joins_the_live_room_of_its_idea(client, db):
    idea = make_idea()
    html = client.get(f"/ideas/{idea.id}").get_data(as_text=True)
    assert f'data-live-idea="{idea.id}"' in element(html, "conversation")[:300]


# --- one comment ------------------------------------------------------------------------------


def test_a_single_comment_partial_carries_the_ids_live_updates_need(client, db):
    comment = services.post_comment(make_member(), idea=make_idea(), body="Live!")
    response = client.get(f"/comments/{comment.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith("<article")
    assert element(html, f"comment-{comment.id}") is not None
    assert (
        element(html, f"replies-{comment.id}")
        == f'<div class="cc-replies" id="replies-{comment.id}">'
    )


def test_a_comment_on_a_hidden_idea_is_not_found(client, db):
    comment = services.post_comment(make_member(), idea=make_idea(), body="Hi")
    hidden = _db.session.get(Comment, comment.id)
    from app.ideas.models import Idea

    _db.session.get(Idea, hidden.idea_id).status = "pending"
    _db.session.commit()
    assert client.get(f"/comments/{comment.id}").status_code == 404


def test_editing_marks_the_comment_edited(client, db, login):
    author = make_member()
    comment = services.post_comment(author, idea=make_idea(), body="Frist")
    login(author)
    before = client.get(f"/comments/{comment.id}").get_data(as_text=True)
    assert 'class="cc-post-edited"' not in before
    response = client.post_form(f"/comments/{comment.id}/edit", {"body": "First"}, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'class="cc-post-edited"' in html
    assert "<p>First</p>" in html


def test_someone_else_cannot_edit_a_comment(client, db, login):
    comment = services.post_comment(make_member(), idea=make_idea(), body="Mine")
    login(make_member())
    response = client.post_form(f"/comments/{comment.id}/edit", {"body": "Yours"}, headers=HTMX)
    assert response.status_code == 403
    assert "Only the author can edit this comment." in response.get_data(as_text=True)
    _db.session.expire_all()
    assert _db.session.get(Comment, comment.id).body == "Mine"


def test_deleting_leaves_a_placeholder_and_keeps_the_replies(client, db, login):
    idea = make_idea()
    author = make_member()
    comment = services.post_comment(author, idea=idea, body="Regrettable")
    reply = services.post_comment(make_member(), parent=comment, body="Still here")
    login(author)
    response = client.post_form(f"/comments/{comment.id}/delete")
    assert response.status_code == 302
    page = client.get(f"/ideas/{idea.id}").get_data(as_text=True)
    removed = element(page, f"comment-{comment.id}-main")
    assert "This comment was removed." in removed
    assert "Regrettable" not in page
    assert element(element(page, f"replies-{comment.id}"), f"comment-{reply.id}") is not None


def test_replies_deeper_than_three_levels_are_collapsed(client, db):
    idea = make_idea()
    member = make_member()
    parent = services.post_comment(member, idea=idea, body="Level 0")
    chain = [parent]
    for level in range(1, 6):
        chain.append(services.post_comment(member, parent=chain[-1], body=f"Level {level}"))
    page = client.get(f"/ideas/{idea.id}").get_data(as_text=True)
    level3 = element(page, f"comment-{chain[3].id}")
    assert "Show 2 more replies" in level3
    assert element(level3, f"comment-{chain[5].id}") is not None
    assert "Show" not in element(page, f"comment-{chain[2].id}-main")


def test_a_very_deep_thread_still_renders(client, db):
    idea = make_idea()
    member = make_member()
    comment = services.post_comment(member, idea=idea, body="Level 0")
    for level in range(1, 80):
        comment = services.post_comment(member, parent=comment, body=f"Level {level}")
    page = client.get(f"/ideas/{idea.id}")
    assert page.status_code == 200
    assert "Show 76 more replies" in page.get_data(as_text=True)


@pytest.mark.parametrize("parent_id", ["99999999999", "-1", "abc"])
def test_an_impossible_parent_is_not_found(client, db, login, parent_id):
    idea = make_idea()
    login(make_member())
    response = client.post_form(
        f"/ideas/{idea.id}/comments", {"body": "Hi", "parent_id": parent_id}
    )
    assert response.status_code == 404
    assert comments_of(idea) == []


# --- reactions and the official answer -------------------------------------------------------


def test_a_reaction_toggles_in_place(client, db, login):
    comment = services.post_comment(make_member(), idea=make_idea(), body="Nice")
    reader = make_member()
    login(reader)
    url = f"/comments/{comment.id}/reactions/👍"
    before = client.get(f"/comments/{comment.id}").get_data(as_text=True)
    assert 'aria-pressed="true"' not in element(before, f"reactions-{comment.id}")
    on = client.post_form(url, {"on": "1"}, headers=HTMX).get_data(as_text=True)
    assert 'aria-pressed="true"' in on
    assert '<span class="cc-reaction-count">1</span>' in on
    assert services.reaction_counts([comment.id])[comment.id] == {"👍": 1}
    off = client.post_form(url, {"on": "0"}, headers=HTMX).get_data(as_text=True)
    assert 'aria-pressed="true"' not in off
    assert services.reaction_counts([comment.id])[comment.id] == {}


def test_a_reaction_without_a_state_flips_it(client, db, login):
    comment = services.post_comment(make_member(), idea=make_idea(), body="Nice")
    login(make_member())
    url = f"/comments/{comment.id}/reactions/💡"
    assert client.post_form(url).status_code == 302
    assert services.reaction_counts([comment.id])[comment.id] == {"💡": 1}
    client.post_form(url)
    assert services.reaction_counts([comment.id])[comment.id] == {}


def test_an_unknown_reaction_is_refused_without_a_crash(client, db, login):
    comment = services.post_comment(make_member(), idea=make_idea(), body="Nice")
    login(make_member())
    response = client.post_form(f"/comments/{comment.id}/reactions/🙈", {"on": "1"}, headers=HTMX)
    assert response.status_code == 422
    assert "Unknown reaction." in response.get_data(as_text=True)


def test_the_official_answer_is_pinned_above_the_thread(client, db, login):
    idea = make_idea()
    services.post_comment(make_member(), idea=idea, body="Will you make it?")
    staff = make_member(roles=("product",))
    answer = services.post_comment(staff, idea=idea, body="Yes, next spring.")
    login(staff)
    response = client.post_form(f"/comments/{answer.id}/official", headers=HTMX)
    assert response.status_code == 200
    page = client.get(f"/ideas/{idea.id}").get_data(as_text=True)
    pinned = element(page, "official-answer")
    assert "Yes, next spring." in pinned
    assert "Team" in pinned
    assert page.index('id="official-answer"') < page.index('id="comments"')


def test_removing_the_official_answer_over_htmx_unpins_it(client, db, login):
    idea = make_idea()
    staff = make_member(roles=("product",))
    answer = services.post_comment(staff, idea=idea, body="Yes, next spring.")
    services.mark_official(answer, actor=staff)
    login(staff)
    response = client.post_form(f"/comments/{answer.id}/delete", headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#conversation"
    assert element(html, "official-answer") is None
    assert "This comment was removed." in element(html, f"comment-{answer.id}-main")


def test_members_cannot_mark_an_official_answer(client, db, login):
    idea = make_idea()
    staff = make_member(roles=("moderator",))
    answer = services.post_comment(staff, idea=idea, body="Staff words")
    login(make_member())
    response = client.post_form(f"/comments/{answer.id}/official", headers=HTMX)
    assert response.status_code == 403
    assert services.thread(viewer=None, idea=idea).official is None


# --- follows ----------------------------------------------------------------------------------


def test_the_follow_button_toggles(client, db, login):
    idea = make_idea()
    member = make_member()
    login(member)
    assert services.is_following(member, "idea", idea.id) is False
    first = client.post_form(f"/follows/idea/{idea.id}", {"on": "1"}, headers=HTMX)
    assert 'aria-pressed="true"' in first.get_data(as_text=True)
    assert services.is_following(member, "idea", idea.id) is True
    second = client.post_form(f"/follows/idea/{idea.id}", headers=HTMX)
    assert 'aria-pressed="false"' in second.get_data(as_text=True)
    assert services.is_following(member, "idea", idea.id) is False


def test_following_without_javascript_returns_to_the_page(client, db, login):
    challenge = make_challenge()
    member = make_member()
    login(member)
    response = client.post_form(f"/follows/challenge/{challenge.id}", {"next": "/challenges"})
    assert response.headers["Location"] == "/challenges"
    assert services.is_following(member, "challenge", challenge.id) is True


def test_following_yourself_is_refused_in_place(client, db, login):
    member = make_member()
    login(member)
    response = client.post_form(f"/follows/user/{member.id}", {"on": "1"}, headers=HTMX)
    assert response.status_code == 422
    assert "You cannot follow yourself." in response.get_data(as_text=True)


def test_an_unknown_follow_kind_is_not_found(client, db, login):
    login(make_member())
    assert client.post_form("/follows/planet/1").status_code == 404


# --- challenges -------------------------------------------------------------------------------


def test_a_challenge_comment_returns_to_the_challenge(client, db, login):
    challenge = make_challenge()
    login(make_member())
    response = client.post_form(f"/challenges/{challenge.id}/comments", {"body": "Count me in"})
    [comment] = _db.session.scalars(select(Comment).where(Comment.challenge_id == challenge.id))
    assert response.headers["Location"] == f"/challenges/{challenge.id}#comment-{comment.id}"


def test_the_challenge_panel_shows_its_conversation_and_follow_button(app, db):
    challenge = make_challenge()
    services.post_comment(make_member(), challenge=challenge, body="Which materials?")
    with app.test_request_context("/"):
        html = render_template("community/_challenge_panel.html", challenge=challenge)
    assert "Which materials?" in element(html, "comments")
    assert f"/login?next=/challenges/{challenge.id}" in element(html, "conversation")
    assert "data-live-idea" not in html


# --- query counts -----------------------------------------------------------------------------


def _busy_conversation(idea, size: int) -> None:
    people = [make_member() for _ in range(3)]
    staff = make_member(roles=("moderator",))
    roots = []
    for n in range(size):
        author = staff if n == 0 else people[n % 3]
        if n % 3 == 2 and roots:
            services.post_comment(
                author, parent=roots[-1], body=f"Reply {n} @{people[0].display_name}"
            )
        else:
            roots.append(services.post_comment(author, idea=idea, body=f"Comment {n}"))
    services.mark_official(roots[0], actor=staff)
    services.react(roots[-1], user=people[1], emoji="🎉")
    services.update_profile(people[0], bio="Hi")


def test_the_conversation_costs_the_same_queries_for_1_and_20_comments(
    client, db, login, count_queries
):
    viewer = make_member()
    small, big = make_idea(), make_idea()
    _busy_conversation(small, 1)
    _busy_conversation(big, 20)
    login(viewer)
    with count_queries() as small_queries:
        assert client.get(f"/ideas/{small.id}").status_code == 200
    with count_queries() as big_queries:
        assert client.get(f"/ideas/{big.id}").status_code == 200
    assert big_queries() == small_queries()


def test_the_panel_alone_costs_one_query_for_a_signed_in_reader(app, db, count_queries):
    from flask_login import login_user

    idea = make_idea()
    _busy_conversation(idea, 20)
    reader = make_member()
    # Loaded beforehand, as the idea page and the session have them.
    assert idea.title
    assert reader.roles == {"customer"}
    with app.test_request_context("/"):
        login_user(reader)
        with count_queries() as n:
            render_template("community/_idea_panel.html", idea=idea)
    # whether the reader follows the idea, and the comments with their authors' pictures, their
    # reaction counts and the reader's own reactions: all in one query
    assert n() == 1


# --- mentions ---------------------------------------------------------------------------------


def test_mention_suggestions_match_names_and_words_of_names(client, db, login):
    ada = make_member(display_name="Ada Lovelace")
    adam = make_member(display_name="Adam Smith")
    bob = make_member(display_name="Bob Adair")
    make_member(display_name="Grace Hopper")
    login(make_member(display_name="Adaline Asker"))
    response = client.get("/people/suggest?q=ad")
    assert response.status_code == 200
    assert response.get_json() == [
        {"id": ada.id, "display_name": "Ada Lovelace"},
        {"id": adam.id, "display_name": "Adam Smith"},
        {"id": bob.id, "display_name": "Bob Adair"},
    ]


def test_mention_suggestions_need_two_letters_and_stop_at_eight(client, db, login):
    for n in range(10):
        make_member(display_name=f"Robin {n}")
    login(make_member(display_name="Viewer"))
    assert client.get("/people/suggest?q=r").get_json() == []
    assert len(client.get("/people/suggest?q=ro").get_json()) == 8


def test_mention_suggestions_treat_wildcards_as_text(client, db, login):
    make_member(display_name="Percy")
    make_member(display_name="%% Club")
    login(make_member(display_name="Viewer"))
    assert [p["display_name"] for p in client.get("/people/suggest?q=%25%25").get_json()] == [
        "%% Club"
    ]


def test_comment_textareas_opt_into_mentions(client, db, login):
    idea = make_idea()
    login(make_member())
    html = client.get(f"/ideas/{idea.id}").get_data(as_text=True)
    assert 'data-mentions="/people/suggest"' in element(html, "comment-body-new")


# --- notifications ----------------------------------------------------------------------------


def test_notifications_are_listed_by_idea_and_mark_all_read_clears_the_count(client, db, login):
    me = make_member()
    idea = make_idea(title="Solar lamp")
    mine = services.post_comment(me, idea=idea, body="Would buy")
    services.post_comment(make_member(display_name="Replier"), parent=mine, body="Me too")
    login(me)
    assert services.unread_count(me) == 1
    page = client.get("/notifications").get_data(as_text=True)
    center = element(page, "notification-center")
    assert "Solar lamp" in center
    assert "Replier replied to you" in center
    assert "1 unread notification" in center
    assert 'class="cc-notice is-unread"' in center
    response = client.post_form("/notifications/read", headers=HTMX)
    assert response.status_code == 200
    assert services.unread_count(me) == 0
    html = response.get_data(as_text=True)
    assert "You are all caught up." in html
    assert 'id="nav-unread-count" data-unread-count hx-swap-oob="true" hidden>0<' in html


def test_one_notification_can_be_marked_read(client, db, login):
    me = make_member()
    first = services.post_comment(me, idea=make_idea(), body="One")
    second = services.post_comment(me, idea=make_idea(), body="Two")
    services.post_comment(make_member(), parent=first, body="Re one")
    services.post_comment(make_member(), parent=second, body="Re two")
    [newest, oldest] = services.notifications_for(me)
    login(me)
    response = client.post_form("/notifications/read", {"ids": str(oldest.id)})
    assert response.headers["Location"] == "/notifications"
    assert [n.id for n in services.notifications_for(me, unread_only=True)] == [newest.id]


def test_the_nav_bell_shows_the_unread_count(app, db):
    from flask_login import login_user

    me = make_member()
    services.post_comment(
        make_member(), parent=services.post_comment(me, idea=make_idea(), body="A"), body="B"
    )
    with app.test_request_context("/"):
        login_user(me)
        html = render_template("community/_nav_bell.html")
    assert 'href="/notifications"' in html
    assert "data-unread-count>1</span>" in html


def test_the_nav_bell_hides_a_zero_count(app, db):
    from flask_login import login_user

    with app.test_request_context("/"):
        login_user(make_member())
        html = render_template("community/_nav_bell.html")
    assert "data-unread-count hidden>0</span>" in html


@pytest.mark.parametrize("ids", ["²", "abc", "99999999999"])
def test_odd_notification_ids_mark_nothing_and_do_not_crash(client, db, login, ids):
    me = make_member()
    services.post_comment(
        make_member(), parent=services.post_comment(me, idea=make_idea(), body="A"), body="B"
    )
    login(me)
    assert client.post_form("/notifications/read", {"ids": ids}).status_code == 302
    assert services.unread_count(me) == 1


def test_notifications_need_a_login(client, db):
    assert client.get("/notifications").status_code == 302


# --- the feed ---------------------------------------------------------------------------------


def test_the_following_tab_shows_only_what_you_follow(client, db, login):
    from app.ideas import services as ideas

    me = make_member()
    followed = make_member(display_name="Followed Person")
    other = make_member(display_name="Someone Else")
    services.follow(me, "user", followed.id)
    ideas.submit_idea(followed, title="Followed idea here", body="Body of the followed idea")
    ideas.submit_idea(other, title="Other idea there", body="Body of the other idea")
    login(me)
    everything = client.get("/feed", headers=HTMX).get_data(as_text=True)
    assert "Followed idea here" in everything
    assert "Other idea there" in everything
    following = client.get("/feed?tab=following", headers=HTMX).get_data(as_text=True)
    assert "Followed idea here" in following
    assert "Other idea there" not in following
    assert 'id="feed-tab-following" hx-get="/feed?tab=following"' in following


def test_anonymous_visitors_see_everything_without_tabs(client, db):
    html = client.get("/feed?tab=following").get_data(as_text=True)
    assert 'id="activity-feed"' in html
    assert "feed-tab-following" not in html
