"""Contest banners: checked to be real images, re-encoded, stored under a generated name.

An upload is decoded with Pillow (anything that is not a PNG, JPEG, WebP or GIF
image is refused), scaled down to a bound and re-encoded, which drops metadata
and anything smuggled after the image data. Files live under
``MEDIA_ROOT/contest-banners/<contest id>/`` with names made here and are served
by a route that checks the name's shape (``contests.banner``).
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

MAX_BANNER_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000
ACCEPTED_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}
BANNER_MAX_SIZE = (1600, 600)
STORED_NAME = re.compile(r"^[A-Za-z0-9_-]{16,40}\.(jpg|png)$")


def _folder(contest_id: int) -> Path:
    return Path(current_app.config["MEDIA_ROOT"]) / "contest-banners" / str(int(contest_id))


def read_banner_upload(stream) -> bytes:
    """Read an uploaded image, refusing more than MAX_BANNER_BYTES (never truncating)."""
    payload = stream.read(MAX_BANNER_BYTES + 1)
    if len(payload) > MAX_BANNER_BYTES:
        raise ValidationFailed(
            _l("The image is larger than %(mb)d MB.", mb=MAX_BANNER_BYTES // (1024 * 1024)), "banner"
        )
    if not payload:
        raise ValidationFailed(_l("The file is empty."), "banner")
    return payload


def normalise_banner(payload: bytes) -> tuple[bytes, str]:
    """Decode ``payload`` as an image and re-encode it; return (bytes, extension).

    Raises ValidationFailed when it is not a PNG, JPEG, WebP or GIF image, or is
    absurdly large once decoded.
    """
    from PIL import Image, UnidentifiedImageError

    not_image = ValidationFailed(_l("The file is not an image (PNG, JPEG, WebP or GIF)."), "banner")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(payload)) as probe:
                if probe.format not in ACCEPTED_FORMATS:
                    raise not_image
                if probe.width * probe.height > MAX_PIXELS:
                    raise ValidationFailed(_l("The image has too many pixels."), "banner")
                probe.verify()
            with Image.open(io.BytesIO(payload)) as image:
                image.load()
                keep_alpha = image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info)
                image = image.convert("RGBA" if keep_alpha else "RGB")
                image.thumbnail(BANNER_MAX_SIZE)
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
        raise ValidationFailed(_l("The image has too many pixels."), "banner") from error


def store_banner(contest_id: int, payload: bytes) -> str:
    """Validate, re-encode and store a banner; return its generated file name."""
    encoded, extension = normalise_banner(payload)
    folder = _folder(contest_id)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_urlsafe(18)}.{extension}"
    temporary = folder / f".{name}.part"
    temporary.write_bytes(encoded)
    os.replace(temporary, folder / name)
    return name


def banner_path(contest_id: int, name: str | None) -> Path | None:
    """The stored file for ``name``, or None when the name is not one we made or it is gone."""
    if not STORED_NAME.match(name or ""):
        return None
    path = _folder(contest_id) / name
    return path if path.is_file() else None


def delete_banner(contest_id: int, name: str | None) -> None:
    """Remove a stored banner (replaced or its contest deleted); a missing file is fine."""
    path = banner_path(contest_id, name)
    if path is not None:
        path.unlink(missing_ok=True)
