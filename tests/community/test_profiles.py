"""Public profiles: the page everyone sees and the settings behind it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from app.community import services
from app.community.models import Profile
from tests.factories import make_idea, make_member


def picture(fmt: str = "PNG", size: tuple[int, int] = (120, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (40, 120, 200)).save(out, format=fmt)
    return out.getvalue()


def upload(client, data: dict, **files):
    form = {"csrf_token": client.csrf_token(), **data}
    for name, (content, filename) in files.items():
        form[name] = (io.BytesIO(content), filename)
    return client.post("/account/public-profile", data=form, content_type="multipart/form-data")


def profile_row(db, user) -> Profile | None:
    db.session.expire_all()
    return db.session.get(Profile, user.id)


# --- the public page --------------------------------------------------------------------------


def test_the_profile_shows_the_bio_and_public_ideas_but_not_pending_ones(client, db):
    person = make_member(display_name="Noor Haddad")
    services.update_profile(person, bio="I design kettles.\nAnd lamps.")
    make_idea(person, title="A kettle that whistles softly")
    make_idea(person, title="A lamp nobody has approved yet", status="pending")
    html = client.get(f"/people/{person.id}").get_data(as_text=True)
    assert "<h1>\n        Noor Haddad" in html
    assert "I design kettles.\nAnd lamps." in html
    assert "A kettle that whistles softly" in html
    assert "A lamp nobody has approved yet" not in html


def test_the_profile_never_shows_the_email_address(client, db):
    person = make_member(email="private@example.com")
    assert "private@example.com" not in client.get(f"/people/{person.id}").get_data(as_text=True)


def test_recent_comments_leave_out_removed_ones_and_those_on_hidden_ideas(client, db):
    person = make_member()
    kept = services.post_comment(person, idea=make_idea(title="Open idea"), body="Kept words")
    removed = services.post_comment(person, idea=make_idea(), body="Removed words")
    services.delete_comment(removed, actor=person)
    hidden = make_idea(status="pending", author=person)
    services.post_comment(person, idea=hidden, body="Hidden words")
    html = client.get(f"/people/{person.id}").get_data(as_text=True)
    assert "Kept words" in html
    assert f"#comment-{kept.id}" in html
    assert "Removed words" not in html
    assert "Hidden words" not in html


def test_an_unknown_person_is_not_found(client, db):
    assert client.get("/people/999999").status_code == 404


def test_people_without_a_picture_show_their_initials(client, db):
    person = make_member(display_name="grace hopper")
    html = client.get(f"/people/{person.id}").get_data(as_text=True)
    hue = person.id % 6
    assert (
        f'class="cc-avatar cc-avatar-hue-{hue} cc-avatar-xl" aria-hidden="true">GH</span>' in html
    )


def test_a_person_can_be_followed_from_their_profile(client, db, login):
    person, me = make_member(), make_member()
    login(me)
    page = client.get(f"/people/{person.id}").get_data(as_text=True)
    assert f'action="/follows/user/{person.id}"' in page
    client.post_form(f"/follows/user/{person.id}", {"on": "1", "next": f"/people/{person.id}"})
    assert services.is_following(me, "user", person.id) is True


def test_your_own_profile_links_to_its_settings_instead_of_a_follow_button(client, db, login):
    me = make_member()
    login(me)
    page = client.get(f"/people/{me.id}").get_data(as_text=True)
    assert 'href="/account/public-profile"' in page
    assert f"/follows/user/{me.id}" not in page


# --- the settings page ------------------------------------------------------------------------


def test_the_bio_is_saved(client, db, login):
    me = make_member()
    login(me)
    assert profile_row(db, me) is None
    response = upload(client, {"bio": "  Tinkerer.  "})
    assert response.status_code == 302
    assert profile_row(db, me).bio == "Tinkerer."


def test_a_bio_over_500_characters_is_refused_inline(client, db, login):
    me = make_member()
    login(me)
    response = upload(client, {"bio": "x" * 501})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="bio-error"' in html
    assert profile_row(db, me) is None


def test_a_png_avatar_is_accepted_re_encoded_and_shown(app, client, db, login):
    me = make_member()
    login(me)
    response = upload(client, {"bio": ""}, avatar=(picture("PNG"), "me.png"))
    assert response.status_code == 302
    path = profile_row(db, me).avatar_path
    assert path.startswith(f"avatars/{me.id}/")
    with Image.open(Path(app.config["MEDIA_ROOT"]) / path) as stored:
        assert (stored.format, stored.size) == ("WEBP", (256, 256))
    page = client.get(f"/people/{me.id}").get_data(as_text=True)
    assert f'src="/media/{path}"' in page


def test_a_renamed_text_file_is_refused_with_an_inline_error(client, db, login):
    me = make_member()
    login(me)
    response = upload(
        client, {"bio": "Hello"}, avatar=(b"#!/bin/sh\necho not a picture\n", "me.png")
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "not a PNG, JPEG or WebP image" in html
    assert 'id="avatar-error"' in html
    assert profile_row(db, me) is None


@pytest.mark.parametrize("filename", ["me.gif", "me.txt"])
def test_other_file_types_are_refused_by_name(client, db, login, filename):
    me = make_member()
    login(me)
    response = upload(client, {"bio": ""}, avatar=(picture("PNG"), filename))
    assert response.status_code == 422
    assert "PNG, JPEG or WebP images only." in response.get_data(as_text=True)


def test_a_new_avatar_replaces_and_deletes_the_old_file(app, client, db, login):
    me = make_member()
    old = services.update_profile(me, bio="", avatar_upload=picture("PNG")).avatar_path
    login(me)
    upload(client, {"bio": ""}, avatar=(picture("JPEG"), "new.jpg"))
    new = profile_row(db, me).avatar_path
    media = Path(app.config["MEDIA_ROOT"])
    assert new != old
    assert (media / new).exists()
    assert not (media / old).exists()


def test_removing_the_avatar_goes_back_to_initials(app, client, db, login):
    me = make_member()
    old = services.update_profile(me, bio="", avatar_upload=picture("PNG")).avatar_path
    login(me)
    assert upload(client, {"bio": "", "remove_avatar": "y"}).status_code == 302
    assert profile_row(db, me).avatar_path is None
    assert not (Path(app.config["MEDIA_ROOT"]) / old).exists()


def test_the_settings_page_needs_a_login(client, db):
    assert client.get("/account/public-profile").status_code == 302


def test_the_account_page_links_to_public_profile_and_notification_settings(client, db, login):
    login(make_member())
    html = client.get("/account").get_data(as_text=True)
    assert 'href="/account/public-profile"' in html
    assert 'href="/account/notifications"' in html


# --- avatars elsewhere ------------------------------------------------------------------------


def test_comment_authors_show_their_avatar_in_the_thread(client, db):
    author = make_member()
    path = services.update_profile(author, bio="", avatar_upload=picture("PNG")).avatar_path
    idea = make_idea()
    comment = services.post_comment(author, idea=idea, body="With a face")
    html = client.get(f"/comments/{comment.id}").get_data(as_text=True)
    assert f'src="/media/{path}"' in html


def test_avatar_paths_leaves_out_people_without_one(db):
    with_one, without = make_member(), make_member()
    path = services.update_profile(with_one, bio="", avatar_upload=picture("PNG")).avatar_path
    services.update_profile(without, bio="Words only")
    assert services.avatar_paths([with_one.id, without.id]) == {with_one.id: path}
