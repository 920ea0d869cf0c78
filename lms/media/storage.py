"""Where media files live: a small storage interface and its local-disk implementation.

Layout under ``MEDIA_ROOT`` (every name is generated; the uploaded file name is
never part of a path, so there is no traversal and no clash)::

    uploads/<upload_id>.part         bytes of an upload in progress
    originals/<asset_id>/source      the uploaded file, kept until the asset is deleted
    work/<asset_id>/<token>/         a transcode in progress (never served)
    renditions/<asset_id>/           master.m3u8, <rendition>-<token>/index.m3u8 + seg_NNNNN.ts, video.mp4
    posters/<asset_id>/poster.jpg

Renditions and poster are written into a work folder and renamed into place
only when complete, so a partial output is never served.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Protocol

from flask import current_app

# What the streaming endpoint may serve from a rendition folder; anything else is 404.
RENDITION_NAME = re.compile(r"^(master\.m3u8|video\.mp4|[a-z0-9]{1,16}-[0-9a-f]{8}/(index\.m3u8|seg_\d{5}\.ts))$")
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


class MediaStorage(Protocol):
    """What the rest of ``media`` needs from a storage backend."""

    def upload_part(self, upload_id: str) -> Path: ...
    def original(self, asset_id: int) -> Path: ...
    def keep_original(self, asset_id: int, part: Path) -> Path: ...
    def new_work_dir(self, asset_id: int) -> Path: ...
    def clear_work(self, asset_id: int) -> None: ...
    def publish(self, asset_id: int, work_dir: Path) -> None: ...
    def rendition_file(self, asset_id: int, name: str) -> Path | None: ...
    def poster_file(self, asset_id: int) -> Path | None: ...
    def delete_asset(self, asset_id: int) -> None: ...
    def relative(self, path: Path) -> str: ...


class LocalStorage:
    """Files on a local (or shared, e.g. NFS) disk under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def _dir(self, kind: str, asset_id: int) -> Path:
        return self.root / kind / str(int(asset_id))

    def upload_part(self, upload_id: str) -> Path:
        """The file an upload's chunks are written into."""
        if not _UPLOAD_ID.match(upload_id):
            raise ValueError("bad upload id")
        folder = self.root / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{upload_id}.part"

    def original(self, asset_id: int) -> Path:
        return self._dir("originals", asset_id) / "source"

    def keep_original(self, asset_id: int, part: Path) -> Path:
        """Move a finished upload to the asset's originals folder (a rename, no copy)."""
        target = self.original(asset_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
        return target

    def new_work_dir(self, asset_id: int) -> Path:
        """A fresh folder for one transcode attempt, on the same disk as the renditions."""
        folder = self._dir("work", asset_id) / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True)
        return folder

    def clear_work(self, asset_id: int) -> None:
        """Remove every partial output of ``asset_id`` (a re-queued or failed attempt)."""
        shutil.rmtree(self._dir("work", asset_id), ignore_errors=True)

    def publish(self, asset_id: int, work_dir: Path) -> None:
        """Rename ``work_dir/hls`` and ``work_dir/poster.jpg`` into place.

        Each rename is atomic; an older set (a re-run) is moved aside first and
        removed after, so a reader sees either the old complete set or the new one.
        """
        target = self._dir("renditions", asset_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        old = None
        if target.exists():
            old = target.with_name(f"{target.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
        os.replace(work_dir / "hls", target)
        poster = work_dir / "poster.jpg"
        if poster.exists():
            poster_dir = self._dir("posters", asset_id)
            poster_dir.mkdir(parents=True, exist_ok=True)
            os.replace(poster, poster_dir / "poster.jpg")
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.discard_work_dir(work_dir)

    def discard_work_dir(self, work_dir: Path) -> None:
        """Remove one attempt's folder, and the asset's work folder once it is empty."""
        shutil.rmtree(work_dir, ignore_errors=True)
        with contextlib.suppress(OSError):  # another attempt's folder is still there
            work_dir.parent.rmdir()

    def rendition_file(self, asset_id: int, name: str) -> Path | None:
        """The file ``name`` of the asset's renditions, or None if the name is not one we make."""
        if not RENDITION_NAME.match(name):
            return None
        folder = self._dir("renditions", asset_id)
        path = (folder / name).resolve()
        if folder.resolve() not in path.parents or not path.is_file():
            return None
        return path

    def poster_file(self, asset_id: int) -> Path | None:
        path = self._dir("posters", asset_id) / "poster.jpg"
        return path if path.is_file() else None

    def delete_asset(self, asset_id: int) -> None:
        """Remove everything stored for ``asset_id``, the original included."""
        for kind in ("originals", "work", "renditions", "posters"):
            shutil.rmtree(self._dir(kind, asset_id), ignore_errors=True)

    def relative(self, path: Path) -> str:
        """``path`` relative to the root, with forward slashes (for X-Accel-Redirect)."""
        return path.resolve().relative_to(self.root).as_posix()

    def usage_bytes(self, asset_id: int) -> int:
        """Bytes stored for ``asset_id`` (original, renditions, poster)."""
        total = 0
        for kind in ("originals", "renditions", "posters"):
            for dirpath, _dirs, files in os.walk(self._dir(kind, asset_id)):
                total += sum((Path(dirpath) / f).stat().st_size for f in files)
        return total


def get_storage() -> LocalStorage:
    """The storage of the current app (``MEDIA_ROOT``)."""
    return LocalStorage(current_app.config["MEDIA_ROOT"])
