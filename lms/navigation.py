"""Navigation and home-page panels, registered by each domain so the base knows none of them.

A domain calls ``register_nav`` and ``register_home_panel`` in its ``init_app(app)`` (never at
import; see ``lms.DOMAIN_MODULES``); ``base.html`` shows the nav items a user may reach and the
home page renders each panel that returns HTML for the user, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from markupsafe import Markup


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy_gettext string
    roles: frozenset[str] = field(default_factory=frozenset)  # empty: every logged-in user
    order: int = 50
    section: str = "main"  # "main" (top bar) or "manage" (the admin/secretary menu)


@dataclass(frozen=True)
class HomePanel:
    name: str
    render: Callable[[object], Markup | str | None]
    order: int = 50


NAV_ITEMS: dict[str, NavItem] = {}
HOME_PANELS: dict[str, HomePanel] = {}


def register_nav(endpoint: str, label, *, roles=(), order: int = 50, section: str = "main") -> None:
    """Add a navigation entry (idempotent: re-registering replaces it)."""
    NAV_ITEMS[endpoint] = NavItem(endpoint, label, frozenset(str(r) for r in roles), order, section)


def register_home_panel(name: str, render: Callable[[object], Markup | str | None], *, order: int = 50) -> None:
    """Add a panel to the member's home page; ``render(user)`` returns HTML or None."""
    HOME_PANELS[name] = HomePanel(name, render, order)


def _may_use(item: NavItem, role: str) -> bool:
    # A subtree admin reaches everything a secretary does, and the entries that name it.
    if not item.roles or role in item.roles:
        return True
    return role == "subtree_admin" and "secretary" in item.roles


def nav_for(user, section: str) -> list[NavItem]:
    """The entries of ``section`` that ``user`` may use, in order."""
    if not getattr(user, "is_authenticated", False):
        return []
    return sorted(
        (
            item
            for item in NAV_ITEMS.values()
            if item.section == section and _may_use(item, str(user.role))
        ),
        key=lambda item: item.order,
    )


def home_panels_for(user) -> list[Markup]:
    """Rendered home panels for ``user``, skipping those with nothing to show."""
    rendered = []
    for panel in sorted(HOME_PANELS.values(), key=lambda p: p.order):
        html = panel.render(user)
        if html:
            rendered.append(Markup(html))  # noqa: S704 (panels return rendered, escaped templates)
    return rendered
