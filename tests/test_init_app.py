"""Each domain registers its navigation entries and hooks in ``init_app(app)``, never as an import side effect."""

from __future__ import annotations

import ast
from pathlib import Path

import lms
from lms import create_app, navigation

LMS = Path(lms.__file__).parent


def _module_level_registrations(path: Path) -> list[str]:
    """Calls of ``register_*`` (not ``register_blueprint``) made when ``path`` is imported."""
    found = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.Expr | ast.Assign):
            continue
        calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
        for call in calls:
            func = call.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name.startswith("register_") and name != "register_blueprint":
                found.append(f"{path.relative_to(LMS.parent)}:{node.lineno} {name}")
    return found


def test_no_module_registers_navigation_or_hooks_when_imported():
    found = [hit for path in sorted(LMS.rglob("*.py")) if "migrations" not in path.parts
             for hit in _module_level_registrations(path)]  # fmt: skip
    assert found == [], "register these in the domain's init_app(app) instead"


def test_the_check_sees_a_registration_at_import(tmp_path):
    module = tmp_path / "lms" / "x.py"
    module.parent.mkdir()
    module.write_text("from lms.navigation import register_nav\nregister_nav('a.b', 'A')\nX = 1\n")
    global LMS
    saved, LMS = LMS, tmp_path / "lms"
    try:
        assert _module_level_registrations(module) == ["lms/x.py:2 register_nav"]
    finally:
        LMS = saved


def _registrations():
    return (
        sorted((item.endpoint, item.section, item.order) for item in navigation.NAV_ITEMS.values()),
        sorted((panel.name, panel.order) for panel in navigation.HOME_PANELS.values()),
    )


def test_init_app_registers_every_domain_and_a_second_app_adds_nothing(app, tmp_path):
    navigation.NAV_ITEMS.clear()
    navigation.HOME_PANELS.clear()
    create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'one.sqlite3'}", "SECRET_KEY": "x"})
    first = _registrations()
    endpoints = [endpoint for endpoint, _, _ in first[0]]
    for expected in ("home.index", "admin.users", "org_admin.audit_log", "notices.notifications",
                     "media_admin.assets", "courses.catalogue", "exams.index", "contests.index",
                     "meetings.calendar", "meetings_admin.kinds_list", "assessment.my_record",
                     "assessment_admin.reports", "integrity.anomalies", "banks.index"):  # fmt: skip
        assert expected in endpoints
    assert {name for name, _ in first[1]} >= {"announcements", "courses", "meetings", "assessment", "quizzes"}
    create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'two.sqlite3'}", "SECRET_KEY": "x"})
    assert _registrations() == first
    assert len(endpoints) == len(set(endpoints))
