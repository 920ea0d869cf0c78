"""Every registered route, tried anonymously, as a learner and as another branch's secretary.

New routes fall under this automatically: a route is public only if listed in
PUBLIC_ENDPOINTS; every `/admin/` route refuses learners; every route about one
member (`<user_id>`) refuses a secretary of another branch.
"""

import pytest
from werkzeug.routing.converters import NumberConverter

from lms.auth.models import Role

PUBLIC_ENDPOINTS = {"auth.login", "auth.set_language", "home.healthz", "static"}
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def concrete_requests(app, user_id: int):
    """(endpoint, method, url) for every rule, with placeholder values for its arguments."""
    requests = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            values = {}
            for name in rule.arguments:
                converter = rule._converters[name]
                if name in ("user_id", "member_id"):
                    values[name] = user_id
                elif isinstance(converter, NumberConverter):
                    values[name] = 1
                else:
                    values[name] = "x"
            url = rule.build(values, append_unknown=False)[1]
            for method in sorted(rule.methods - SKIPPED_METHODS):
                requests.append((rule.endpoint, method, url))
    return requests


@pytest.fixture
def two_branches(make_branch, make_user):
    first, second = make_branch("第一党支部"), make_branch("第二党支部")
    return {
        "learner": make_user(username="learner", branch=first),
        "secretary": make_user(username="secretary", role=Role.SECRETARY, branch=first),
        "stranger": make_user(username="stranger", branch=second),
    }


def test_every_non_public_route_needs_login(app):
    for endpoint, method, url in concrete_requests(app, user_id=1):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        response = app.test_client().open(url, method=method)
        assert response.status_code in (302, 401), f"{method} {url} answered {response.status_code} anonymously"
        if response.status_code == 302:
            assert "/auth/login" in response.headers["Location"], f"{method} {url} redirects elsewhere"


def test_learners_are_refused_on_admin_routes_and_other_members_records(app, two_branches, login):
    client = login(two_branches["learner"], on=app.test_client())
    for endpoint, method, url in concrete_requests(app, user_id=two_branches["stranger"].id):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        about_other_member = "user_id" in url or str(two_branches["stranger"].id) in url.split("/")
        if url.startswith("/admin/") or about_other_member:
            response = client.open(url, method=method)
            assert response.status_code in (403, 404), f"learner got {response.status_code} on {method} {url}"


def test_secretaries_are_refused_on_members_outside_their_branch(app, two_branches, login):
    client = login(two_branches["secretary"], on=app.test_client())
    stranger = two_branches["stranger"]
    checked = 0
    for endpoint, method, url in concrete_requests(app, user_id=stranger.id):
        rule_has_member = any(
            "user_id" in rule.arguments or "member_id" in rule.arguments for rule in app.url_map.iter_rules(endpoint)
        )
        if not rule_has_member:
            continue
        response = client.open(url, method=method)
        checked += 1
        assert response.status_code in (403, 404), f"secretary got {response.status_code} on {method} {url}"
    assert checked > 0
