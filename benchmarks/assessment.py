"""Scoring everyone against a learning target, against one hand-written SQL query of the hours alone.

Builds a SQLite database in a temporary directory: 10,000 members in 50
branches, 1,000,000 study-ledger rows, 200,000 finished quiz attempts and the
lesson completions of three required courses (``--quick``: 1,000 members,
50,000 rows, 10,000 attempts). Then measures, best of three:

- the reference: ONE aggregate SQL query summing each member's study seconds of
  the year (the hours part of the score, and nothing else);
- ``compute_scores``: everything a score needs (members, online and offline
  hours with the cap, required courses, required quizzes with pass scores,
  pace, grade) for every member of the target;
- ``recompute_target``: the same, stored as a run (what the nightly job does);
- the report page of the whole organisation (branch roll-up, charts, first
  page of members) read from the stored run, with its peak Python memory;
- the statements each of these issues.

Prints the figures and, last, the headline ratio scoring / reference.
Only loopback: the page is fetched through Flask's test client.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lms import clock, create_app  # noqa: E402
from lms.extensions import db  # noqa: E402

NOW = datetime(2026, 10, 15, 4, 0, tzinfo=UTC)  # noon in Shanghai, 287 days into the year
YEAR_START = date(2026, 1, 1)


def build(app, members: int, ledger_rows: int, attempts: int) -> int:
    """Fill the database; return the id of the target to score."""
    from lms.assessment.models import LearningTarget, TargetCourse, TargetQuiz
    from lms.auth.models import Branch, BranchKind, User
    from lms.courses.models import Course, CourseStatus, Lesson, LessonKind, LessonProgress, StudyLedgerEntry
    from lms.exams.quizzes.models import Quiz, QuizAttempt

    rng = random.Random(2026)
    now = NOW
    root = Branch(name="集团党委", kind=BranchKind.COMMITTEE, path="")
    db.session.add(root)
    db.session.flush()
    root.path = f"/{root.id}/"
    generals = []
    for g in range(5):
        general = Branch(name=f"第{g + 1}党总支", kind=BranchKind.GENERAL_BRANCH, parent_id=root.id, path="")
        db.session.add(general)
        db.session.flush()
        general.path = f"{root.path}{general.id}/"
        generals.append(general)
    branches = []
    for b in range(50):
        parent = generals[b % 5]
        branch = Branch(name=f"第{b + 1}党支部", kind=BranchKind.BRANCH, parent_id=parent.id, path="")
        db.session.add(branch)
        db.session.flush()
        branch.path = f"{parent.path}{branch.id}/"
        branches.append(branch)
    db.session.commit()

    db.session.execute(
        sa.insert(User),
        [
            {
                "username": f"m{i}",
                "name": f"党员{i:05d}",
                "password_hash": "x",
                "branch_id": branches[i % len(branches)].id,
                "status": "full",
                "role": "learner",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(members)
        ],
    )
    db.session.add(User(username="admin", name="管理员", password_hash="x", role="admin", branch_id=root.id))
    db.session.commit()
    user_ids = list(db.session.scalars(sa.select(User.id).where(User.role == "learner").order_by(User.id)))

    courses = []
    for c in range(8):
        course = Course(title=f"课程{c + 1}", status=CourseStatus.PUBLISHED, created_at=now, updated_at=now)
        for position in range(5):
            course.lessons.append(
                Lesson(kind=LessonKind.VIDEO, title=f"第{position + 1}课", position=position, duration_seconds=1800,
                       is_published=True, created_at=now, updated_at=now)
            )  # fmt: skip
        db.session.add(course)
        courses.append(course)
    quizzes = [Quiz(title=f"测验{q + 1}", pass_percent=60, is_published=True, created_at=now, updated_at=now)
               for q in range(5)]  # fmt: skip
    db.session.add_all(quizzes)
    db.session.commit()
    lessons = [lesson.id for course in courses for lesson in course.lessons]

    # Ledger: rows spread over 2025-2026 (the year's period covers about half of them).
    per_member = max(ledger_rows // len(user_ids), 1)
    batch = []
    written = 0
    for user_id in user_ids:
        keys = set()
        while len(keys) < per_member:
            day = date(2025, 1, 1) + timedelta(days=rng.randrange(730))
            source = rng.choice(("video", "video", "reading", "offline"))
            lesson = None if source == "offline" else rng.choice(lessons)
            keys.add((day, source, lesson))
        for day, source, lesson in keys:
            batch.append({"user_id": user_id, "day": day, "source": source, "lesson_id": lesson,
                          "seconds": float(rng.randrange(60, 1800)), "updated_at": now})  # fmt: skip
        if len(batch) >= 50_000:
            db.session.execute(sa.insert(StudyLedgerEntry), batch)
            written += len(batch)
            batch = []
    if batch:
        db.session.execute(sa.insert(StudyLedgerEntry), batch)
        written += len(batch)
    db.session.commit()

    # Completions of the first three courses' lessons by about half the members.
    required = courses[:3]
    progress = []
    for user_id in user_ids:
        for course in required:
            done = rng.randrange(6)
            for lesson in course.lessons[:done]:
                progress.append({"user_id": user_id, "lesson_id": lesson.id, "intervals": [0, 1800],
                                 "watched_seconds": 1800.0, "started_at": now, "completed_at": now})  # fmt: skip
    for offset in range(0, len(progress), 50_000):
        db.session.execute(sa.insert(LessonProgress), progress[offset : offset + 50_000])
    db.session.commit()

    # Finished attempts spread over the quizzes; numbers 1.. per (member, quiz).
    numbers: dict[tuple[int, int], int] = {}
    rows = []
    for _ in range(attempts):
        user_id = rng.choice(user_ids)
        quiz = rng.choice(quizzes)
        number = numbers.get((user_id, quiz.id), 0) + 1
        numbers[(user_id, quiz.id)] = number
        percent = round(rng.uniform(20, 100), 1)
        rows.append({"quiz_id": quiz.id, "user_id": user_id, "number": number, "state": "finished",
                     "open_slot": None, "is_practice": False, "started_at": now, "last_activity_at": now,
                     "finished_at": now, "score": percent, "max_score": 100.0, "score_percent": percent})  # fmt: skip
        if len(rows) >= 50_000:
            db.session.execute(sa.insert(QuizAttempt.__table__), rows)
            rows = []
    if rows:
        db.session.execute(sa.insert(QuizAttempt.__table__), rows)
    db.session.commit()

    target = LearningTarget(
        name="年度学习目标", required_hours=32, offline_cap_hours=16, created_at=now, updated_at=now
    )
    target.set_audience(["full"], ["learner"], [])
    target.courses = [TargetCourse(course_id=c.id, title=c.title, position=i) for i, c in enumerate(required)]
    target.quizzes = [TargetQuiz(quiz_id=q.id, title=q.title, pass_percent=70, position=i)
                      for i, q in enumerate(quizzes[:2])]  # fmt: skip
    db.session.add(target)
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    print(
        f"data: {len(user_ids):,} members, {written:,} ledger rows, {attempts:,} attempts, "
        f"{len(progress):,} lesson completions"
    )
    return target.id


REFERENCE_SQL = sa.text(
    """
    SELECT study_ledger.user_id, SUM(study_ledger.seconds)
    FROM study_ledger JOIN users ON users.id = study_ledger.user_id
    WHERE study_ledger.day BETWEEN :start AND :end
      AND users.is_active AND users.status = 'full' AND users.role = 'learner'
    GROUP BY study_ledger.user_id
    """
)


def best_of(runs: int, func) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - started)
    return min(times), result


class Statements:
    def __init__(self) -> None:
        self.count = 0

    def __enter__(self):
        sa.event.listen(db.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        sa.event.remove(db.engine, "before_cursor_execute", self._count)

    def _count(self, *args, **kwargs):
        self.count += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 members, 50,000 ledger rows (under 45 s)")
    args = parser.parse_args()
    members, ledger_rows, attempts = (1_000, 50_000, 10_000) if args.quick else (10_000, 1_000_000, 200_000)
    runs = 3

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SECRET_KEY": "benchmark",
                "TESTING": True,
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
            }
        )
        with app.app_context():
            db.create_all()
            started = time.perf_counter()
            target_id = build(app, members, ledger_rows, attempts)
            print(f"built in {time.perf_counter() - started:.1f} s")
            clock.freeze(NOW)
            from lms.assessment import services
            from lms.assessment.models import LearningTarget
            from lms.assessment.periods import year_period

            target = db.session.get(LearningTarget, target_id)
            period = year_period(2026)
            today = clock.local_day(NOW)

            reference, rows = best_of(
                runs, lambda: db.session.execute(REFERENCE_SQL, {"start": period.start, "end": period.end}).all()
            )
            print(f"reference: one aggregate SQL query of the hours: {reference * 1000:.1f} ms ({len(rows):,} rows)")

            with Statements() as scoring_statements:
                scoring, scored = best_of(runs, lambda: services.compute_scores(target, period, today))
            print(
                f"compute_scores: {len(scored):,} members scored in {scoring * 1000:.1f} ms "
                f"({scoring_statements.count // runs} statements)"
            )

            def store():
                run = services.recompute_target(target, NOW)
                db.session.commit()
                return run

            with Statements() as store_statements:
                storing, _run = best_of(runs, store)
            print(
                f"recompute_target (score and store the run): {storing * 1000:.1f} ms "
                f"({store_statements.count // runs} statements)"
            )

            from lms.auth.models import User

            admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
            client = app.test_client()
            with client.session_transaction() as session:
                session["_user_id"] = admin.get_id()
                session["_fresh"] = True
            db.session.remove()

            def page():
                response = client.get(f"/admin/reports/{target_id}")
                assert response.status_code == 200, response.status_code
                return len(response.data)

            page()  # warm templates
            with Statements() as page_statements:
                page_time, size = best_of(runs, page)
            tracemalloc.start()
            page()
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"report page (all {members:,} members, roll-up of 56 branches): {page_time * 1000:.1f} ms, "
                f"{size / 1024:.0f} KiB, peak Python memory {peak / 1024 / 1024:.1f} MiB "
                f"({page_statements.count // runs} statements)"
            )

            def export():
                response = client.get(f"/admin/reports/{target_id}/export.xlsx")
                return len(response.data)

            export()  # warm the code paths once, as a running server has
            tracemalloc.start()
            export_time, export_size = best_of(1, export)
            _current, export_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"Excel export of {members:,} members: {export_time * 1000:.0f} ms, {export_size / 1024:.0f} KiB, "
                f"peak Python memory {export_peak / 1024 / 1024:.1f} MiB"
            )
            clock.freeze(None)
            print(f"report page / reference query: {page_time / reference:.2f}x")
            print(f"score and store / reference query: {storing / reference:.2f}x")
            print(f"scoring everyone / one hand-written hours query: {scoring / reference:.2f}x")
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
