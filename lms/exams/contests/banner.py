"""Contest banners, stored with ``lms.images`` under ``MEDIA_ROOT/contest-banners/<contest id>/``
and served by a route that checks the name's shape (``contests.banner``)."""

from __future__ import annotations

from pathlib import Path

from lms import images

BANNER_MAX_SIZE = (1600, 600)


def _folder(contest_id: int) -> Path:
    return images.media_folder("contest-banners", int(contest_id))


def read_banner_upload(stream) -> bytes:
    """Read an uploaded banner, refusing more than the image size cap (never truncating)."""
    return images.read_image_upload(stream, field="banner")


def store_banner(contest_id: int, payload: bytes) -> str:
    """Validate, re-encode and store a banner; return its generated file name."""
    return images.store_image(_folder(contest_id), payload, BANNER_MAX_SIZE, field="banner")


def banner_path(contest_id: int, name: str | None) -> Path | None:
    """The stored file for ``name``, or None when the name is not one we made or it is gone."""
    return images.stored_image_path(_folder(contest_id), name)


def delete_banner(contest_id: int, name: str | None) -> None:
    """Remove a stored banner (replaced or its contest deleted); a missing file is fine."""
    images.delete_stored_image(_folder(contest_id), name)
