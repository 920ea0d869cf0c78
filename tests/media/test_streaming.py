"""Protected streaming: access checks, Range and conditional requests, cache headers, X-Accel-Redirect."""

from __future__ import annotations

import pytest

from lms.auth.models import Role
from lms.media import access
from lms.media.storage import get_storage

pytestmark = pytest.mark.ffmpeg


@pytest.fixture
def checks(monkeypatch):
    """An empty access-check registry for the test (other domains' checks are not in play)."""
    registry: dict = {}
    monkeypatch.setattr(access, "_CHECKS", registry)
    return registry


def urls(asset) -> dict[str, str]:
    segment = f"{asset.renditions[0]['folder']}/seg_00000.ts"
    return {
        "master": f"/media/{asset.id}/hls/master.m3u8",
        "variant": f"/media/{asset.id}/hls/{asset.renditions[0]['folder']}/index.m3u8",
        "segment": f"/media/{asset.id}/hls/{segment}",
        "poster": f"/media/{asset.id}/poster.jpg",
        "mp4": f"/media/{asset.id}/video.mp4",
    }


def test_admin_gets_playlists_segments_poster_and_mp4(ready_asset, client, make_user, login):
    asset = ready_asset()
    login(make_user(role=Role.ADMIN))
    expected = {
        "master": "application/vnd.apple.mpegurl",
        "variant": "application/vnd.apple.mpegurl",
        "segment": "video/mp2t",
        "poster": "image/jpeg",
        "mp4": "video/mp4",
    }
    for name, url in urls(asset).items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == expected[name]
        assert "private" in response.headers["Cache-Control"]
    assert "immutable" in client.get(urls(asset)["segment"]).headers["Cache-Control"]
    assert "immutable" in client.get(urls(asset)["variant"]).headers["Cache-Control"]
    for name in ("master", "poster", "mp4"):  # names an asset id may reuse: revalidated
        assert client.get(urls(asset)[name]).headers["Cache-Control"] == "private, no-cache"
    assert f"{asset.renditions[0]['folder']}/index.m3u8".encode() in client.get(urls(asset)["master"]).data


def test_range_request_returns_206_and_exactly_those_bytes(ready_asset, client, make_user, login):
    asset = ready_asset()
    login(make_user(role=Role.ADMIN))
    whole = get_storage().rendition_file(asset.id, "video.mp4").read_bytes()
    response = client.get(urls(asset)["mp4"], headers={"Range": "bytes=100-1099"})
    assert response.status_code == 206
    assert response.data == whole[100:1100]
    assert response.headers["Content-Range"] == f"bytes 100-1099/{len(whole)}"
    response = client.get(urls(asset)["segment"], headers={"Range": "bytes=-188"})
    segment = get_storage().rendition_file(asset.id, f"{asset.renditions[0]['folder']}/seg_00000.ts").read_bytes()
    assert response.status_code == 206 and response.data == segment[-188:]


def test_conditional_request_answers_304(ready_asset, client, make_user, login):
    asset = ready_asset()
    login(make_user(role=Role.ADMIN))
    first = client.get(urls(asset)["segment"])
    again = client.get(urls(asset)["segment"], headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_learner_without_access_gets_403_everywhere(ready_asset, client, make_user, login, checks):
    asset = ready_asset()
    login(make_user())
    for url in urls(asset).values():
        assert client.get(url).status_code == 403, url
    checks["course"] = lambda user, asset_id: None  # no opinion is not a grant
    assert client.get(urls(asset)["master"]).status_code == 403


def test_learner_granted_by_a_check_can_stream_and_a_refusal_wins(ready_asset, client, make_user, login, checks):
    asset = ready_asset()
    learner = make_user()
    login(learner)
    checks["course"] = lambda user, asset_id: user.id == learner.id and asset_id == asset.id
    for url in urls(asset).values():
        assert client.get(url).status_code == 200, url
    checks["suspended"] = lambda user, asset_id: False
    assert client.get(urls(asset)["segment"]).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(ready_asset, client):
    asset = ready_asset()
    for url in urls(asset).values():
        response = client.get(url)
        assert response.status_code in (302, 401), url


def test_paths_outside_the_renditions_are_not_served(ready_asset, client, make_user, login):
    asset = ready_asset()
    login(make_user(role=Role.ADMIN))
    for name in (
        "../../originals/{id}/source",
        "..%2F..%2Foriginals%2F{id}%2Fsource",
        "180p/../../../originals/{id}/source",
        "/etc/passwd",
        "180p/seg_0.ts",
        "master.m3u8.bak",
    ):
        response = client.get(f"/media/{asset.id}/hls/" + name.format(id=asset.id), follow_redirects=True)
        assert response.status_code == 404, name


def test_assets_not_ready_are_not_served(store_asset, clips, client, make_user, login):
    asset = store_asset(clips.landscape)  # queued, not transcoded
    login(make_user(role=Role.ADMIN))
    assert client.get(f"/media/{asset.id}/hls/master.m3u8").status_code == 404
    assert client.get("/media/999999/poster.jpg").status_code == 404


def test_accel_redirect_hands_the_file_to_nginx(ready_asset, client, make_user, login, app):
    asset = ready_asset()
    login(make_user(role=Role.ADMIN))
    app.config["MEDIA_ACCEL_REDIRECT"] = "/protected-media/"
    response = client.get(urls(asset)["segment"])
    assert response.status_code == 200 and response.data == b""
    segment = f"{asset.renditions[0]['folder']}/seg_00000.ts"
    assert response.headers["X-Accel-Redirect"] == f"/protected-media/renditions/{asset.id}/{segment}"
    assert response.mimetype == "video/mp2t"
    assert "immutable" in response.headers["Cache-Control"]
    poster = client.get(urls(asset)["poster"])
    assert poster.headers["X-Accel-Redirect"] == f"/protected-media/posters/{asset.id}/poster.jpg"
