"""The shared page frame: the favicon, the bell on phones, named breadcrumbs (see also tests/e2e/test_page_net.py)."""

import re

from lms.auth.models import Role
from lms.extensions import db
from lms.notices import services


def test_favicon_is_served_at_the_root_without_login(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert client.get("/static/favicon.svg").status_code == 200


def test_pages_link_the_svg_favicon(client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert re.search(r'<link rel="icon" href="/static/favicon\.svg[^"]*" type="image/svg\+xml">', html)


def test_bell_with_unread_count_sits_in_the_bar_outside_the_collapsed_menu(client, make_user, login, frozen_clock):
    member = make_user()
    services.notify_users([member.id], kind="system", title="学习提醒", now=frozen_clock.now)
    db.session.commit()
    login(member)
    html = client.get("/").get_data(as_text=True)
    bell = re.search(r'<a class="navbar-bell[^"]*" href="/notifications" data-testid="bell">(.*?)</a>', html, re.S)
    assert bell, "the bell link is missing"
    assert bell.start() < html.index('id="mainNav"'), "the bell must not be inside the collapsed menu"
    assert 'data-testid="unread-count">1<span class="visually-hidden"> 条未读</span>' in bell.group(1)
    assert '<span class="visually-hidden">消息通知</span>' in bell.group(1)  # its name, also on wide screens
    assert "aria-label" not in bell.group(0)  # the name comes from the visible count, so both agree


def test_breadcrumbs_are_named_in_the_ui_language(client, make_user, login):
    admin = make_user(role=Role.ADMIN)
    login(admin)
    html = client.get(f"/admin/users/{admin.id}").get_data(as_text=True)
    assert '<nav aria-label="当前位置">' in html and 'aria-label="breadcrumb"' not in html
    admin.locale = "en"
    db.session.commit()
    assert '<nav aria-label="Breadcrumb">' in client.get(f"/admin/users/{admin.id}").get_data(as_text=True)
