"""The large-text switch on the account, and the installable web app (manifest, service worker, offline page)."""

from __future__ import annotations

import json

from lms.auth.models import User
from lms.extensions import db


def large_text_of(user) -> bool:
    db.session.expire_all()
    return db.session.get(User, user.id).large_text


def test_large_text_is_one_tap_stored_on_the_account(client, login, make_user):
    member = make_user()
    login(member)
    page = client.get("/").get_data(as_text=True)
    assert 'class="large-text"' not in page and 'data-testid="large-text"' in page
    response = client.post("/account/large-text", data={"next": "/courses/"})
    assert response.status_code == 302 and response.headers["Location"] == "/courses/"
    assert large_text_of(member) is True
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN" class="large-text">' in page
    assert 'aria-pressed="true"' in page
    client.post("/account/large-text", data={"next": "https://evil.example/"})
    assert large_text_of(member) is False


def test_large_text_needs_a_login_and_a_csrf_token(app, client, make_user):
    assert client.post("/account/large-text").status_code in (302, 401)
    app.config["WTF_CSRF_ENABLED"] = True
    member = make_user()
    with client.session_transaction() as session:
        session["_user_id"] = member.get_id()
    assert client.post("/account/large-text").status_code == 400
    assert large_text_of(member) is False


def test_the_manifest_makes_the_site_installable(client):
    response = client.get("/manifest.webmanifest")
    assert response.mimetype == "application/manifest+json"
    manifest = json.loads(response.data)
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    assert {icon["sizes"] for icon in manifest["icons"]} == {"192x192", "512x512"}
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200


def test_the_service_worker_caches_the_shell_and_never_video(client):
    response = client.get("/sw.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert "no-cache" in response.headers["Cache-Control"]
    script = response.get_data(as_text=True)
    shell = json.loads(script.split("var SHELL = ", 1)[1].split(";\n", 1)[0])
    assert "/offline" in shell and "/static/css/app.css" in shell
    for url in shell:
        assert client.get(url).status_code == 200, url
    assert "m3u8|ts|mp4" in script and 'request.method !== "GET"' in script


def test_the_offline_page_says_so_without_a_login(client):
    page = client.get("/offline")
    assert page.status_code == 200
    assert "网络已断开" in page.get_data(as_text=True)


def test_pages_link_the_manifest_and_register_the_worker(client, login, make_user):
    login(make_user())
    page = client.get("/").get_data(as_text=True)
    assert 'rel="manifest" href="/manifest.webmanifest"' in page
    assert 'data-service-worker="/sw.js"' in page


def test_text_responses_are_compressed_for_weak_networks(client):
    css = client.get("/static/vendor/bootstrap/bootstrap.min.css", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert css.headers.get("Content-Encoding") in ("br", "gzip")
    assert len(css.data) < 60_000  # about 230 kB as written
    plain = client.get("/static/vendor/bootstrap/bootstrap.min.css")
    assert "Content-Encoding" not in plain.headers
