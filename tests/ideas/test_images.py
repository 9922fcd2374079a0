from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.errors import ValidationFailed
from app.ideas import images, services
from app.ideas.models import Idea, IdeaImage
from tests.factories import make_member


def picture(fmt: str = "PNG", size: tuple[int, int] = (64, 48), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(out, format=fmt, **save)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_accepted_formats_are_reencoded_as_webp(fmt):
    result = images.process_upload(picture(fmt))
    assert result.content_type == "image/webp"
    assert (result.width, result.height) == (64, 48)
    assert Image.open(io.BytesIO(result.data)).format == "WEBP"


def test_exif_metadata_is_dropped():
    exif = Image.Exif()
    exif[0x010F] = "Camera of a customer who would rather stay anonymous"  # Make
    data = picture("JPEG", exif=exif)
    assert Image.open(io.BytesIO(data)).getexif()
    result = images.process_upload(data)
    assert not Image.open(io.BytesIO(result.data)).getexif()


@pytest.mark.parametrize(
    "data",
    [
        b"#!/bin/sh\necho this is a script renamed to photo.png\n",
        b"GIF89a" + b"\x00" * 64,
        b"",
    ],
    ids=["renamed-text", "gif", "empty"],
)
def test_files_that_are_not_accepted_images_are_refused(data):
    with pytest.raises(ValidationFailed) as error:
        images.process_upload(data)
    assert "images" in error.value.fields


def test_oversized_file_is_refused():
    with pytest.raises(ValidationFailed, match="5 MB"):
        images.process_upload(picture("PNG") + b"\x00" * images.MAX_BYTES)


def test_decompression_bomb_is_refused():
    # A tiny PNG that claims a 20000×20000 canvas (400 megapixels), made in one colour so it
    # compresses to almost nothing.
    bomb = picture("PNG", size=(20_000, 20_000), optimize=True)
    assert len(bomb) < images.MAX_BYTES
    with pytest.raises(ValidationFailed, match="pixels"):
        images.process_upload(bomb)


def test_submitted_images_are_stored_outside_the_code_tree_and_served(app, client, db):
    author = make_member()
    idea = services.submit_idea(
        author, title="Idea with a photo", body="See the sketch.", uploads=[picture("JPEG")]
    )
    [image] = idea.images
    stored = Path(app.config["MEDIA_ROOT"]) / image.path
    assert stored.is_file()
    assert not stored.resolve().is_relative_to(Path(app.root_path).resolve())
    response = client.get(f"/media/{image.path}")
    assert response.status_code == 200
    assert response.mimetype == "image/webp"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()


def test_a_bad_image_loses_the_whole_submission(db):
    with pytest.raises(ValidationFailed):
        services.submit_idea(
            make_member(),
            title="Idea with junk",
            body="x",
            uploads=[picture("PNG"), b"not an image"],
        )
    assert db.session.scalar(select(func.count()).select_from(Idea)) == 0
    assert db.session.scalar(select(func.count()).select_from(IdeaImage)) == 0


def test_media_paths_cannot_escape_the_media_folder(client):
    assert client.get("/media/../config.py").status_code == 404
    assert client.get("/media/%2e%2e/%2e%2e/config.py").status_code == 404
