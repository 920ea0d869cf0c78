"""Who may stream an asset, and who still uses it: decided by the callers of ``media``.

Another domain registers a check with ``register_access_check(name, check)``; a
check is ``check(user, asset_id) -> bool | None``: True grants, False refuses,
None has no opinion. Streaming is allowed when some check grants and none
refuses. Admins may always stream (they uploaded it).

A domain that points at assets (a lesson's video) registers
``register_usage(name, describe)``, where ``describe(asset_id) -> list[str]``
names the things using it; an asset still in use cannot be deleted.
"""

from __future__ import annotations

from collections.abc import Callable

AccessCheck = Callable[[object, int], bool | None]
UsageDescriber = Callable[[int], list[str]]
_CHECKS: dict[str, AccessCheck] = {}
_USAGES: dict[str, UsageDescriber] = {}


def register_access_check(name: str, check: AccessCheck) -> None:
    """Add (or replace) a named access check."""
    _CHECKS[name] = check


def may_stream(user, asset_id: int) -> bool:
    """True when ``user`` may fetch the playlists, segments and poster of ``asset_id``."""
    if not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_admin", False):
        return True
    verdicts = [check(user, asset_id) for check in _CHECKS.values()]
    return any(v is True for v in verdicts) and not any(v is False for v in verdicts)


def register_usage(name: str, describe: UsageDescriber) -> None:
    """Add (or replace) a named usage lookup: ``describe(asset_id)`` lists what uses the asset."""
    _USAGES[name] = describe


def usages(asset_id: int) -> list[str]:
    """Everything that uses ``asset_id``, as short descriptions (empty: free to delete)."""
    found: list[str] = []
    for describe in _USAGES.values():
        found.extend(describe(asset_id) or [])
    return found
