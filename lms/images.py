"""Uploaded images (course covers, article images, contest banners): checked, re-encoded, stored.

An upload is decoded with Pillow (anything that is not a PNG, JPEG, WebP or GIF
image is refused), scaled down to a bound and re-encoded, which drops metadata
(EXIF locations) and anything smuggled after the image data. Files are stored
under a folder of ``MEDIA_ROOT`` chosen by the caller, with names made here;
``stored_image_path`` accepts only names of that shape, so a URL can never
reach another file.
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
STORED_NAME = re.compile(r"^[A-Za-z0-9_-]{16,40}\.(jpg|png)$")


def media_folder(*parts: str | int) -> Path:
    """A folder under MEDIA_ROOT (e.g. ``media_folder("covers", course_id)``)."""
    return Path(current_app.config["MEDIA_ROOT"]).joinpath(*(str(part) for part in parts))


def read_image_upload(stream, field: str = "image") -> bytes:
    """Read an uploaded image, refusing more than MAX_IMAGE_BYTES (never truncating)."""
    payload = stream.read(MAX_IMAGE_BYTES + 1)
    if len(payload) > MAX_IMAGE_BYTES:
        raise ValidationFailed(_l("The image is larger than %(mb)d MB.", mb=MAX_IMAGE_BYTES // (1024 * 1024)), field)
    if not payload:
        raise ValidationFailed(_l("The file is empty."), field)
    return payload


def normalise_image(payload: bytes, max_size: tuple[int, int], field: str = "image") -> tuple[bytes, str]:
    """Decode ``payload`` as an image and re-encode it; return (bytes, extension).

    Raises ValidationFailed when it is not a PNG, JPEG, WebP or GIF image, or is
    absurdly large once decoded.
    """
    from PIL import Image, UnidentifiedImageError

    not_image = ValidationFailed(_l("The file is not an image (PNG, JPEG, WebP or GIF)."), field)
    too_many_pixels = ValidationFailed(_l("The image has too many pixels."), field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(payload)) as probe:
                if probe.format not in ACCEPTED_FORMATS:
                    raise not_image
                if probe.width * probe.height > MAX_PIXELS:
                    raise too_many_pixels
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
        raise too_many_pixels from error


def store_image(folder: Path, payload: bytes, max_size: tuple[int, int], field: str = "image") -> str:
    """Validate, re-encode and store an image in ``folder``; return its generated file name."""
    encoded, extension = normalise_image(payload, max_size, field)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_urlsafe(18)}.{extension}"
    temporary = folder / f".{name}.part"
    temporary.write_bytes(encoded)
    os.replace(temporary, folder / name)
    return name


def stored_image_path(folder: Path, name: str | None) -> Path | None:
    """The stored file for ``name``, or None when the name is not one we made or it is gone."""
    if not STORED_NAME.match(name or ""):
        return None
    path = folder / name
    return path if path.is_file() else None


def delete_stored_image(folder: Path, name: str | None) -> None:
    """Remove a stored image (replaced, or its owner deleted); a missing file is fine."""
    path = stored_image_path(folder, name)
    if path is not None:
        path.unlink(missing_ok=True)
