"""Who may stream an asset: decided by the callers of ``media``, never by media itself.

Another domain registers a check with ``register_access_check(check)``; a check
is ``check(user, asset_id) -> bool | None``: True grants, False refuses, None
has no opinion. Streaming is allowed when some check grants and none refuses.
Admins may always stream (they uploaded it).
"""

from __future__ import annotations

from collections.abc import Callable

AccessCheck = Callable[[object, int], bool | None]
_CHECKS: dict[str, AccessCheck] = {}


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
