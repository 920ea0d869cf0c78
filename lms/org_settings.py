"""Organisation settings kept in the database, with effective dates; the environment gives defaults.

Each setting is a small history of (effective_from, value) rows: the value in
force on a day is the row with the latest ``effective_from`` on or before it,
or the configuration (``LMS_<KEY>``) when none is. So a new 学时 conversion
applies from its date while past periods keep theirs (the study ledger keeps
seconds; see ``lms.courses.ledger.seconds_per_hour_clause``).

Lowest layer beside ``lms.audit``: it imports nothing from the domains.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from lms import audit, clock
from lms.errors import ValidationFailed
from lms.extensions import db


class OrgSetting(db.Model):
    """One value of one setting, in force from ``effective_from`` until the next row of the key."""

    __tablename__ = "org_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(60))
    effective_from: Mapped[date]
    value: Mapped[Any] = mapped_column(sa.JSON)
    changed_at: Mapped[datetime]
    changed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (sa.UniqueConstraint("key", "effective_from"),)


@dataclass(frozen=True)
class SettingSpec:
    key: str  # the config name (LMS_<key> in the environment)
    label: object
    kind: type  # int, str or bool
    minimum: int | None = None
    maximum: int | None = None
    secret: bool = False
    group: str = "study"
    default: Any = None  # when the configuration has no such key either


SPECS: dict[str, SettingSpec] = {
    spec.key: spec
    for spec in (
        SettingSpec("MINUTES_PER_STUDY_HOUR", _l("Minutes of study per study hour"), int, 1, 240),
        SettingSpec("OFFLINE_EDIT_WINDOW_DAYS", _l("Days to enter or change offline records"), int, 0, 3660),
        SettingSpec(
            "ASSESSMENT_REMINDER_WEEKDAY",
            _l("Reminder day of the week (1 = Monday)"),
            int,
            1,
            7,
            group="reminders",
            default=1,
        ),
        SettingSpec(
            "ASSESSMENT_REMINDER_HOUR", _l("Reminder hour (local time)"), int, 0, 23, group="reminders", default=9
        ),
        SettingSpec("SMTP_HOST", _l("SMTP server"), str, group="mail"),
        SettingSpec("SMTP_PORT", _l("SMTP port"), int, 1, 65535, group="mail"),
        SettingSpec("SMTP_USER", _l("SMTP user"), str, group="mail"),
        SettingSpec("SMTP_PASSWORD", _l("SMTP password"), str, secret=True, group="mail"),
        SettingSpec("SMTP_SENDER", _l("Sender address"), str, group="mail"),
        SettingSpec("SMTP_TLS", _l("Use STARTTLS"), bool, group="mail"),
    )
}


def _default(key: str) -> Any:
    """The configuration's value (``LMS_<KEY>``), else the spec's own default."""
    spec = SPECS.get(key)
    return current_app.config.get(key, spec.default if spec else None)


def _history(key: str) -> list[tuple[date, Any]]:
    """(effective_from, value) rows of ``key``, oldest first; cached for the request."""
    cache = g.setdefault("_org_settings", {}) if has_request_context() else {}
    if key not in cache:
        cache[key] = [
            (day, value)
            for day, value in db.session.execute(
                sa.select(OrgSetting.effective_from, OrgSetting.value)
                .where(OrgSetting.key == key)
                .order_by(OrgSetting.effective_from)
            )
        ]
    return cache[key]


def forget_cache() -> None:
    """Drop the request's cached settings (after a change or a rollback)."""
    if has_request_context():
        g.pop("_org_settings", None)


def value(key: str, on: date | None = None) -> Any:
    """The value of setting ``key`` in force on ``on`` (default: today, local), else the config default."""
    day = on or clock.local_day(clock.utcnow())
    current = _default(key)
    for effective_from, stored in _history(key):
        if effective_from > day:
            break
        current = stored
    return current


def history(key: str) -> list[tuple[date, Any]]:
    """Every dated value of ``key`` (oldest first); the config default applies before the first."""
    return list(_history(key))


def minutes_per_study_hour(on: date | None = None) -> float:
    """Minutes of study in one 学时 on ``on`` (default today)."""
    return float(value("MINUTES_PER_STUDY_HOUR", on))


def conversion_periods() -> list[tuple[date | None, float]]:
    """(effective_from, minutes per 学时) in date order; the first starts at None (the config default)."""
    periods: list[tuple[date | None, float]] = [(None, float(_default("MINUTES_PER_STUDY_HOUR")))]
    periods += [(day, float(minutes)) for day, minutes in _history("MINUTES_PER_STUDY_HOUR")]
    return periods


def clean(spec: SettingSpec, raw: Any) -> Any:
    """Parse and check a submitted value; raise ValidationFailed naming the field."""
    if spec.kind is bool:
        return bool(raw) and str(raw).lower() not in ("0", "false", "off", "n")
    if spec.kind is int:
        try:
            number = int(str(raw).strip())
        except (TypeError, ValueError):
            raise ValidationFailed(_l("Enter a whole number."), spec.key) from None
        if (spec.minimum is not None and number < spec.minimum) or (spec.maximum is not None and number > spec.maximum):
            raise ValidationFailed(
                _l("Enter a number from %(low)d to %(high)d.", low=spec.minimum, high=spec.maximum), spec.key
            )
        return number
    text = str(raw or "").strip()
    if len(text) > 254:
        raise ValidationFailed(_l("The value is too long."), spec.key)
    return text


def set_value(key: str, new_value: Any, effective_from: date, *, actor: Any, now: datetime) -> bool:
    """Store ``new_value`` for ``key`` from ``effective_from`` on (replacing a row of that day). Audited.

    Returns False (and writes nothing) when the value in force on that day is already ``new_value``.
    """
    spec = SPECS[key]
    cleaned = clean(spec, new_value)
    old = value(key, effective_from)
    if old == cleaned:
        return False
    row = db.session.scalar(
        sa.select(OrgSetting).where(OrgSetting.key == key, OrgSetting.effective_from == effective_from)
    )
    if row is None:
        row = OrgSetting(key=key, effective_from=effective_from)
        db.session.add(row)
    row.value = cleaned
    row.changed_at = now
    row.changed_by_id = getattr(actor, "id", None)
    db.session.flush()
    forget_cache()
    audit.record(
        "settings.change",
        "setting",
        key,
        before={key.lower(): old, "effective_from": effective_from},
        after={key.lower(): cleaned, "effective_from": effective_from},
        actor=actor,
        now=now,
        label=str(spec.label),
        only_changes=False,
    )
    return True
