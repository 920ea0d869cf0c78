"""Chunked, resumable uploads through the admin JSON API."""

from __future__ import annotations

import hashlib

import pytest

from lms.auth.models import Role
from lms.extensions import db
from lms.media.models import AssetStatus, MediaAsset, MediaUpload
from lms.media.storage import get_storage

CHUNK = 64 * 1024


@pytest.fixture
def admin_client(app, client, make_user, login):
    app.config["UPLOAD_CHUNK_MB"] = CHUNK / (1024 * 1024)
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    login(make_user(role=Role.ADMIN))
    return client


def start(client, payload: bytes, name: str = "lesson.mp4", title: str = ""):
    response = client.post("/admin/media/uploads", json={"filename": name, "size": len(payload), "title": title})
    return response


def put_chunk(client, upload: dict, payload: bytes, start_at: int, *, total: int | None = None, digest=None):
    chunk = payload[start_at : start_at + upload["chunk_size"]]
    end = start_at + len(chunk) - 1
    return client.put(
        upload["url"],
        data=chunk,
        headers={
            "Content-Range": f"bytes {start_at}-{end}/{total if total is not None else len(payload)}",
            "X-Chunk-SHA256": digest or hashlib.sha256(chunk).hexdigest(),
            "Content-Type": "application/octet-stream",
        },
    )


def checksum(payload: bytes, chunk_size: int = CHUNK) -> str:
    digests = [hashlib.sha256(payload[i : i + chunk_size]).digest() for i in range(0, len(payload), chunk_size)]
    return hashlib.sha256(b"".join(digests)).hexdigest()


def test_upload_in_chunks_is_checked_probed_and_queued(admin_client, clips):
    payload = clips.hd.read_bytes()
    assert len(payload) > 3 * CHUNK
    response = start(admin_client, payload, "党课 第一讲.mp4")
    assert response.status_code == 201
    upload = response.json["upload"]
    assert (upload["offset"], upload["size"], upload["chunk_size"]) == (0, len(payload), CHUNK)
    offset = 0
    while offset < len(payload):
        response = put_chunk(admin_client, upload, payload, offset)
        assert response.status_code == 200, response.json
        offset = response.json["offset"]
    response = admin_client.post(upload["url"] + "/complete", json={"checksum": checksum(payload)})
    assert response.status_code == 200, response.json
    asset = db.session.get(MediaAsset, response.json["asset_id"])
    assert response.json["status"] == "queued" and asset.status == AssetStatus.QUEUED
    assert asset.title == "党课 第一讲" and asset.original_filename == "党课 第一讲.mp4"
    assert asset.checksum_sha256 == checksum(payload)
    stored = get_storage().original(asset.id)
    assert stored.read_bytes() == payload
    assert stored.name == "source"  # never the uploaded name
    assert db.session.get(MediaUpload, upload["id"]) is None
    assert list((get_storage().root / "uploads").iterdir()) == []


def test_interrupted_upload_resumes_without_resending_and_is_byte_identical(admin_client, clips):
    payload = clips.hd.read_bytes()
    upload = start(admin_client, payload).json["upload"]
    for offset in (0, CHUNK):
        assert put_chunk(admin_client, upload, payload, offset).status_code == 200
    # The connection drops in the middle of the third chunk: only part of it arrives.
    half = payload[2 * CHUNK : 2 * CHUNK + CHUNK // 2]
    response = admin_client.put(
        upload["url"],
        data=half,
        headers={
            "Content-Range": f"bytes {2 * CHUNK}-{3 * CHUNK - 1}/{len(payload)}",
            "X-Chunk-SHA256": hashlib.sha256(payload[2 * CHUNK : 3 * CHUNK]).hexdigest(),
        },
    )
    assert response.status_code == 422
    # After a page reload the browser asks where the upload stands...
    status = admin_client.get(upload["url"]).json["upload"]
    assert status["offset"] == 2 * CHUNK
    # ...and sends only what is missing.
    sent = []
    offset = status["offset"]
    while offset < len(payload):
        sent.append(offset)
        offset = put_chunk(admin_client, upload, payload, offset).json["offset"]
    assert sent[0] == 2 * CHUNK
    response = admin_client.post(upload["url"] + "/complete", json={"checksum": checksum(payload)})
    assert response.status_code == 200
    assert get_storage().original(response.json["asset_id"]).read_bytes() == payload


def test_chunk_out_of_order_is_refused_with_the_offset_to_resume_from(admin_client, clips):
    payload = clips.hd.read_bytes()
    upload = start(admin_client, payload).json["upload"]
    response = put_chunk(admin_client, upload, payload, CHUNK)
    assert response.status_code == 409 and response.json["offset"] == 0
    assert put_chunk(admin_client, upload, payload, 0).status_code == 200
    response = put_chunk(admin_client, upload, payload, 0)  # sent twice
    assert response.status_code == 409 and response.json["offset"] == CHUNK


def test_upload_over_the_size_cap_is_refused(admin_client, app):
    app.config["MAX_UPLOAD_MB"] = 1
    response = admin_client.post("/admin/media/uploads", json={"filename": "big.mp4", "size": 1024 * 1024 + 1})
    assert response.status_code == 413
    assert response.json["error"] == "The file is larger than the limit of 1 MB."
    assert db.session.query(MediaAsset).count() == 0


def test_chunk_past_the_declared_size_or_the_cap_is_refused(admin_client, app):
    payload = b"x" * (CHUNK + 100)
    upload = start(admin_client, payload).json["upload"]
    assert put_chunk(admin_client, upload, payload, 0, total=len(payload) * 10).status_code == 413
    response = admin_client.put(
        upload["url"],
        data=b"y" * 200,
        headers={
            "Content-Range": f"bytes 0-199/{len(payload)}",
            "X-Chunk-SHA256": hashlib.sha256(b"y" * 200).hexdigest(),
        },
    )
    assert response.status_code == 422  # only the last chunk may be short
    assert put_chunk(admin_client, upload, payload, 0).status_code == 200
    beyond = b"z" * 200
    response = admin_client.put(
        upload["url"],
        data=beyond,
        headers={
            "Content-Range": f"bytes {CHUNK}-{CHUNK + 199}/{len(payload)}",
            "X-Chunk-SHA256": hashlib.sha256(beyond).hexdigest(),
        },
    )
    assert response.status_code == 413
    assert admin_client.get(upload["url"]).json["upload"]["offset"] == CHUNK


def test_damaged_chunk_is_refused_and_the_offset_stays(admin_client, clips):
    payload = clips.landscape.read_bytes()
    upload = start(admin_client, payload).json["upload"]
    response = put_chunk(admin_client, upload, payload, 0, digest="0" * 64)
    assert response.status_code == 422 and "checksum" in response.json["error"]
    assert admin_client.get(upload["url"]).json["upload"]["offset"] == 0


def test_wrong_whole_file_checksum_keeps_the_upload_open(admin_client, clips):
    payload = clips.landscape.read_bytes()
    upload = start(admin_client, payload).json["upload"]
    offset = 0
    while offset < len(payload):
        offset = put_chunk(admin_client, upload, payload, offset).json["offset"]
    response = admin_client.post(upload["url"] + "/complete", json={"checksum": "ab" * 32})
    assert response.status_code == 422
    assert db.session.get(MediaUpload, upload["id"]) is not None
    response = admin_client.post(upload["url"] + "/complete", json={"checksum": checksum(payload)})
    assert response.status_code == 200


def test_unfinished_upload_cannot_complete(admin_client, clips):
    payload = clips.hd.read_bytes()
    upload = start(admin_client, payload).json["upload"]
    put_chunk(admin_client, upload, payload, 0)
    response = admin_client.post(upload["url"] + "/complete", json={"checksum": checksum(payload)})
    assert response.status_code == 422 and "not finished" in response.json["error"]


def test_cancelled_upload_leaves_nothing_behind(admin_client, clips):
    payload = clips.hd.read_bytes()
    upload = start(admin_client, payload).json["upload"]
    put_chunk(admin_client, upload, payload, 0)
    assert admin_client.delete(upload["url"]).status_code == 200
    assert db.session.query(MediaAsset).count() == 0
    assert not get_storage().upload_part(upload["id"]).exists()
    assert admin_client.get(upload["url"]).status_code == 404


def test_uploaded_text_file_is_refused_on_the_asset_and_kept(admin_client, clips):
    payload = clips.text.read_bytes()
    upload = start(admin_client, payload, "notes.mp4").json["upload"]
    offset = 0
    while offset < len(payload):
        offset = put_chunk(admin_client, upload, payload, offset).json["offset"]
    response = admin_client.post(upload["url"] + "/complete", json={"checksum": checksum(payload)})
    assert response.json["status"] == "failed"
    assert response.json["error"] == "The file is text, not a video or audio recording."
    assert get_storage().original(response.json["asset_id"]).read_bytes() == payload


def test_empty_file_and_missing_name_are_refused(admin_client):
    response = admin_client.post("/admin/media/uploads", json={"filename": "a.mp4", "size": 0})
    assert response.status_code == 422 and response.json["error"] == "The file is empty (0 bytes)."
    response = admin_client.post("/admin/media/uploads", json={"filename": "", "size": 10})
    assert response.status_code == 422
    response = admin_client.post("/admin/media/uploads", json={"filename": "a.mp4", "size": "lots"})
    assert response.status_code == 422


def test_upload_ids_cannot_reach_other_paths(admin_client):
    assert admin_client.get("/admin/media/uploads/..%2F..%2Fetc").status_code == 404
    assert admin_client.put("/admin/media/uploads/" + "f" * 32, data=b"x").status_code == 404


def test_learners_cannot_upload(client, make_user, login):
    login(make_user())
    assert client.post("/admin/media/uploads", json={"filename": "a.mp4", "size": 10}).status_code == 403
    assert client.get("/admin/media/upload").status_code == 403


def test_chunk_without_csrf_token_is_refused(app, admin_client, clips):
    payload = clips.landscape.read_bytes()
    upload = start(admin_client, payload).json["upload"]
    app.config["WTF_CSRF_ENABLED"] = True
    response = put_chunk(admin_client, upload, payload, 0)
    assert response.status_code == 400
