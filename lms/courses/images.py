"""Course cover and article images, stored with ``lms.images`` under
``MEDIA_ROOT/covers/<course id>/`` and ``MEDIA_ROOT/course-images/<course id>/``."""

from __future__ import annotations

from pathlib import Path

from lms import images
from lms.images import read_image_upload  # noqa: F401  (the courses views read uploads through here)

COVER_MAX_SIZE = (1280, 720)
ARTICLE_IMAGE_MAX_SIZE = (1600, 1600)
_FOLDERS = {"cover": "covers", "article": "course-images"}


def _folder(kind: str, course_id: int) -> Path:
    return images.media_folder(_FOLDERS[kind], int(course_id))


def store_image(kind: str, course_id: int, payload: bytes) -> str:
    """Validate, re-encode and store an image of a course; return its generated file name."""
    max_size = COVER_MAX_SIZE if kind == "cover" else ARTICLE_IMAGE_MAX_SIZE
    return images.store_image(_folder(kind, course_id), payload, max_size)


def image_path(kind: str, course_id: int, name: str) -> Path | None:
    """The stored file for ``name``, or None when the name is not one we made or it is gone."""
    return images.stored_image_path(_folder(kind, course_id), name)


def delete_image(kind: str, course_id: int, name: str | None) -> None:
    """Remove a stored image (a replaced cover); missing files are fine."""
    images.delete_stored_image(_folder(kind, course_id), name)
