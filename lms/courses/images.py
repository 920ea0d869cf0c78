"""Course cover and article images: checked to be real images, re-encoded, stored by generated name.

An upload is decoded with Pillow (anything that is not a PNG, JPEG, WebP or GIF
image is refused), scaled down to a bound and re-encoded, which drops metadata
(EXIF locations) and anything smuggled after the image data. Files live under
``MEDIA_ROOT/covers/<course id>/`` and ``MEDIA_ROOT/course-images/<course id>/``
with names made here, and are served by a route that checks the name's shape.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import warnings
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from lms.errors import ValidationFailed

MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000
ACCEPTED_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}
COVER_MAX_SIZE = (1280, 720)
ARTICLE_IMAGE_MAX_SIZE = (1600, 1600)
STORED_NAME = re.compile(r"^[A-Za-z0-9_-]{16,40}\.(jpg|png)$")


def _folder(kind: str, course_id: int) -> Path:
    sub = {"cover": "covers", "article": "course-images"}[kind]
    return Path(current_app.config["MEDIA_ROOT"]) / sub / str(int(course_id))


def read_image_upload(stream) -> bytes:
    """Read an uploaded image, refusing more than MAX_IMAGE_BYTES (never truncating)."""
    payload = stream.read(MAX_IMAGE_BYTES + 1)
    if len(payload) > MAX_IMAGE_BYTES:
        raise ValidationFailed(_l("The image is larger than %(mb)d MB.", mb=MAX_IMAGE_BYTES // (1024 * 1024)), "image")
    if not payload:
        raise ValidationFailed(_l("The file is empty."), "image")
    return payload


def normalise_image(payload: bytes, max_size: tuple[int, int]) -> tuple[bytes, str]:
    """Decode ``payload`` as an image and re-encode it; return (bytes, extension).

    Raises ValidationFailed when it is not a PNG, JPEG, WebP or GIF image, or is
    absurdly large once decoded.
    """
    from PIL import Image, UnidentifiedImageError

    not_image = ValidationFailed(_l("The file is not an image (PNG, JPEG, WebP or GIF)."), "image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(payload)) as probe:
                if probe.format not in ACCEPTED_FORMATS:
                    raise not_image
                if probe.width * probe.height > MAX_PIXELS:
                    raise ValidationFailed(_l("The image has too many pixels."), "image")
                probe.verify()
            with Image.open(io.BytesIO(payload)) as image:
                image.load()
                keep_alpha = image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info)
                image = image.convert("RGBA" if keep_alpha else "RGB")
                image.thumbnail(max_size)
                out = io.BytesIO()
                if keep_alpha:
                    image.save(out, format="PNG", optimize=True)
                    return out.getvalue(), "png"
                image.save(out, format="JPEG", quality=85, optimize=True, progressive=True)
                return out.getvalue(), "jpg"
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as error:
        raise not_image from error
    except Image.DecompressionBombError as error:
        raise ValidationFailed(_l("The image has too many pixels."), "image") from error


def store_image(kind: str, course_id: int, payload: bytes) -> str:
    """Validate, re-encode and store an image of a course; return its generated file name."""
    max_size = COVER_MAX_SIZE if kind == "cover" else ARTICLE_IMAGE_MAX_SIZE
    encoded, extension = normalise_image(payload, max_size)
    folder = _folder(kind, course_id)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_urlsafe(18)}.{extension}"
    temporary = folder / f".{name}.part"
    temporary.write_bytes(encoded)
    os.replace(temporary, folder / name)
    return name


def image_path(kind: str, course_id: int, name: str) -> Path | None:
    """The stored file for ``name``, or None when the name is not one we made or it is gone."""
    if not STORED_NAME.match(name or ""):
        return None
    path = _folder(kind, course_id) / name
    return path if path.is_file() else None


def delete_image(kind: str, course_id: int, name: str | None) -> None:
    """Remove a stored image (a replaced cover); missing files are fine."""
    path = image_path(kind, course_id, name or "")
    if path is not None:
        path.unlink(missing_ok=True)
