"""Pictures people attach: checked by content, re-encoded, stored under the instance folder.

Re-encoding (to WebP) drops whatever rode along in the file: EXIF location data, scripts in
polyglot files, oversized colour profiles.
"""

from __future__ import annotations

import io
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import ValidationFailed
from app.extensions import db

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a bigger canvas is a decompression bomb, not a photo
MAX_SIDE = 2400
ACCEPTED_FORMATS = {"PNG", "JPEG", "WEBP"}


@dataclass(frozen=True)
class ProcessedImage:
    data: bytes
    width: int
    height: int
    content_type: str = "image/webp"
    extension: str = "webp"


def _reject(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_image", fields={"images": [message]})


def process_upload(upload) -> ProcessedImage:
    """Validate an uploaded file (a werkzeug FileStorage or bytes) and re-encode it."""
    data = upload if isinstance(upload, bytes) else upload.stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _reject(_("Images can be at most 5 MB."))
    if not data:
        raise _reject(_("That file is empty."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ACCEPTED_FORMATS:
                    raise _reject(_("Use a PNG, JPEG or WebP image."))
                if probe.width * probe.height > MAX_PIXELS:
                    raise _reject(_("That image has too many pixels."))
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                image = ImageOps.exif_transpose(image)
                image.thumbnail((MAX_SIDE, MAX_SIDE))
                if image.mode not in ("RGB", "RGBA"):
                    image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
                out = io.BytesIO()
                image.save(out, format="WEBP", quality=85, method=4)
                return ProcessedImage(out.getvalue(), image.width, image.height)
    except ValidationFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _reject(_("That image has too many pixels.")) from exc
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise _reject(_("That file is not a PNG, JPEG or WebP image we can read.")) from exc


def media_root() -> Path:
    return Path(current_app.config["MEDIA_ROOT"])


def save(image: ProcessedImage, folder: str) -> str:
    """Write the image under the media folder; returns its path relative to that folder."""
    relative = f"{folder}/{secrets.token_hex(12)}.{image.extension}"
    target = media_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(image.data)
    return relative


def save_all(idea, processed: list[ProcessedImage]) -> list[str]:
    from app.ideas.models import IdeaImage

    saved = []
    for position, image in enumerate(processed):
        path = save(image, f"ideas/{idea.id}")
        saved.append(path)
        idea.images.append(
            IdeaImage(
                path=path,
                content_type=image.content_type,
                width=image.width,
                height=image.height,
                size=len(image.data),
                position=position,
            )
        )
    return saved


def discard(paths: list[str]) -> None:
    """Remove files written for a transaction that did not commit."""
    for path in paths:
        (media_root() / path).unlink(missing_ok=True)


def commit_or_discard(written: list[str]) -> None:
    """Commit the transaction that refers to the files just written; when it fails, remove
    them, so no file is left that nothing points to."""
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        discard(written)
        raise
