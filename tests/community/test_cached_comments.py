"""Comments are kept rendered for people signed out, and never shown stale."""

from __future__ import annotations

from app.community import services
from tests.factories import make_idea, make_member


def test_a_kept_comment_shows_reactions_edits_removals_and_new_names(client, db):
    author = make_member(display_name="Greta")
    idea = make_idea()
    comment = services.post_comment(author, idea=idea, body="Make it **foldable**.")
    page = lambda: client.get(f"/ideas/{idea.id}").get_data(as_text=True)  # noqa: E731
    first = page()
    assert "<strong>foldable</strong>" in first
    assert first == page()  # kept, and the same

    services.react(comment, user=make_member(), emoji="\N{THUMBS UP SIGN}")
    assert 'cc-reaction-count">1<' in page().replace(" ", "")

    services.edit_comment(comment, editor=author, body="Make it *light*.")
    now = page()
    assert "<em>light</em>" in now
    assert "foldable" not in now

    services.delete_comment(comment, actor=author)
    assert "This comment was removed." in page()


def test_people_signed_in_see_their_own_controls_on_a_kept_comment(client, db, login):
    author = make_member()
    idea = make_idea()
    comment = services.post_comment(author, idea=idea, body="Mine.")
    client.get(f"/ideas/{idea.id}")  # kept for people signed out
    login(author)
    page = client.get(f"/ideas/{idea.id}").get_data(as_text=True)
    assert f"/comments/{comment.id}/delete" in page
