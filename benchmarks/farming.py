"""Study-time farming: how much credit the known farming patterns earn per second of wall time.

Runs the heartbeat endpoint through Flask's test client on a fresh SQLite file,
with the clock stepped (no sleeping), and sends what a farming script would:

- 1 beat a second claiming 3 s of new content at rate 1 (the old per-beat slack paid ~3x),
- 1 beat a second claiming 6 s at rate 2,
- 20 parallel beats every 15 s (the same timestamp), each claiming 15 s,
- 1 beat a second claiming rate 16,
- a new session every second, each with one beat,
- a session left open for an hour, then one beat claiming the whole hour at rate 2,
- and, for comparison, an honest player (one 15 s beat every 15 s at rate 1).

For each pattern it prints credited seconds / wall seconds against the allowed
rate (min(claimed rate, LMS_MAX_PLAYBACK_RATE)); the LAST line is the worst
farming pattern, e.g. ``farming: worst credited/real 1.03x of allowed rate 1.0``.

    .venv/bin/python benchmarks/farming.py [--quick]
"""

from __future__ import annotations

import argparse
import contextvars
import json
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


@dataclass
class Pattern:
    name: str
    every: float  # wall seconds between rounds
    claim: float  # content seconds each beat claims
    rate: float
    parallel: int = 1
    restart_each_round: bool = False
    honest: bool = False


PATTERNS = [
    Pattern("1 beat/s, 3 s each, rate 1", every=1, claim=3, rate=1),
    Pattern("1 beat/s, 6 s each, rate 2", every=1, claim=6, rate=2),
    Pattern("20 parallel beats every 15 s", every=15, claim=15, rate=1, parallel=20),
    Pattern("1 beat/s claiming rate 16", every=1, claim=16, rate=16),
    Pattern("a new session every second", every=1, claim=3, rate=2, restart_each_round=True),
    Pattern("honest player, 15 s beats", every=15, claim=15, rate=1, honest=True),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one 60 s run per pattern (default: 60 s and 10 min)")
    args = parser.parse_args()

    import sqlalchemy as sa
    from flask.testing import FlaskClient

    from lms import clock, create_app
    from lms.auth.models import Role, User
    from lms.courses import services
    from lms.courses.models import LessonKind, StudyLedgerEntry
    from lms.extensions import db
    from lms.media.models import AssetKind, AssetStatus, MediaAsset

    class IsolatedClient(FlaskClient):
        """Each request in its own context (as in production), so no logged-in user leaks between clients."""

        def open(self, *args, **kwargs):
            return contextvars.Context().run(super().open, *args, **kwargs)

    tmp = tempfile.TemporaryDirectory()
    app = create_app({
        "TESTING": True, "ENV_NAME": "test", "SECRET_KEY": "farming", "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False, "SCHEDULER": "off", "MEDIA_ROOT": str(Path(tmp.name) / "media"),
        "DATABASE_URL": f"sqlite:///{Path(tmp.name) / 'farming.sqlite3'}",
        "HEARTBEAT_MAX_PER_MINUTE": 10_000,  # measure the credit rule, not the rate limit
    })  # fmt: skip
    app.test_client_class = IsolatedClient
    max_rate = float(app.config["MAX_PLAYBACK_RATE"])
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    clock.freeze(now)
    durations = [60] if args.quick else [60, 600]
    results = []
    with app.app_context():
        db.create_all()
        admin = User(username="farm-admin", name="管理员", password_hash="!", role=Role.ADMIN)
        db.session.add(admin)
        asset = MediaAsset(title="长视频", original_filename="long.mp4", kind=AssetKind.VIDEO,
                           status=AssetStatus.READY, duration_seconds=100_000.0, ready_at=now)  # fmt: skip
        db.session.add(asset)
        db.session.flush()
        course = services.create_course(services.CourseFields(title="刷课测试"), actor=admin, now=now)
        lesson = services.add_lesson(
            course, services.LessonFields(kind=LessonKind.VIDEO, title="第一讲", media_asset_id=asset.id), now=now
        )
        db.session.flush()
        db.session.refresh(course)
        services.publish_course(course, now=now)
        db.session.commit()
        lesson_id = lesson.id

        def run(pattern: Pattern, seconds: int, n: int) -> tuple[float, float]:
            nonlocal now
            user = User(username=f"farmer{n}", name=f"刷课者{n}", password_hash="!")
            db.session.add(user)
            db.session.commit()
            client = app.test_client()
            with client.session_transaction() as session:
                session["_user_id"] = user.get_id()
                session["_fresh"] = True

            def start() -> str:
                return client.post(f"/courses/lessons/{lesson_id}/session", json={}).get_json()["session_id"]

            session_id = start()
            position, wall = 0.0, 0.0
            while wall < seconds:
                now += timedelta(seconds=pattern.every)
                clock.freeze(now)
                wall += pattern.every
                if pattern.restart_each_round:
                    session_id = start()
                for _ in range(pattern.parallel):
                    body = {
                        "session_id": session_id,
                        "lesson_id": lesson_id,
                        "from": position,
                        "to": position + pattern.claim,
                        "rate": pattern.rate,
                        "visible": True,
                        "idle_seconds": 0,
                    }
                    response = client.post("/courses/heartbeat", data=json.dumps(body),
                                           headers={"Content-Type": "text/plain"})  # fmt: skip
                    assert response.status_code == 200, response.get_data(as_text=True)
                    position += pattern.claim
            credited = db.session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(StudyLedgerEntry.seconds), 0)).where(
                    StudyLedgerEntry.user_id == user.id
                )
            )
            return float(credited), wall

        def run_banked(n: int) -> tuple[float, float]:
            """A session opened, left for an hour, then one beat claiming the hour at rate 2."""
            nonlocal now
            user = User(username=f"banker{n}", name=f"攒时者{n}", password_hash="!")
            db.session.add(user)
            db.session.commit()
            client = app.test_client()
            with client.session_transaction() as session:
                session["_user_id"] = user.get_id()
            session_id = client.post(f"/courses/lessons/{lesson_id}/session", json={}).get_json()["session_id"]
            now += timedelta(hours=1)
            clock.freeze(now)
            body = {"session_id": session_id, "from": 0, "to": 7200, "rate": 2, "idle_seconds": 0}
            answer = client.post("/courses/heartbeat", data=json.dumps(body), headers={"Content-Type": "text/plain"})
            return float(answer.get_json()["credited"]), 3600.0

        n = 0
        for seconds in durations:
            for pattern in PATTERNS:
                n += 1
                credited, wall = run(pattern, seconds, n)
                allowed = min(pattern.rate, max_rate)
                ratio = credited / (wall * allowed)
                results.append((pattern, ratio, allowed))
                print(f"{pattern.name:34s} {seconds:4d} s  credited {credited:8.2f} s in {wall:6.0f} s  "
                      f"= {credited / wall:5.3f}/s  {ratio:5.3f}x of allowed rate {allowed:.1f}")  # fmt: skip
        n += 1
        credited, wall = run_banked(n)
        print(
            f"{'session left open 1 h, then 1 beat':34s} credited {credited:8.2f} s in {wall:6.0f} s  "
            f"= {credited / wall:5.3f}/s  {credited / (wall * max_rate):5.3f}x of allowed rate {max_rate}"
        )
        db.session.remove()
        db.engine.dispose()
    clock.freeze(None)
    tmp.cleanup()
    farming = [(ratio, allowed) for pattern, ratio, allowed in results if not pattern.honest]
    honest = [ratio for pattern, ratio, _ in results if pattern.honest]
    worst, allowed = max(farming)
    print(f"honest player: {min(honest):.2f}x of allowed rate 1.0 (credit kept)")
    print(f"farming: worst credited/real {worst:.2f}x of allowed rate {allowed:.1f}")


if __name__ == "__main__":
    main()
