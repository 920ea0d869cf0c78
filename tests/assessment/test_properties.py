"""Reports equal a brute-force per-member computation on random data, and cost the same statements for any size."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lms.assessment import reports, services
from lms.assessment.models import LearningTarget, TargetCourse, TargetQuiz
from lms.auth.models import Branch, BranchKind, MemberStatus, Role, User
from lms.auth.services import create_branch
from lms.courses.models import StudySource
from lms.extensions import db
from tests.assessment.conftest import StudyData
from tests.conftest import password_hash

pytestmark = pytest.mark.postgres  # report SQL against a brute-force computation

YEAR_START, YEAR_END = date(2026, 1, 1), date(2026, 12, 31)

member_strategy = st.fixed_dictionaries(
    {
        "branch": st.integers(0, 2),
        "status": st.sampled_from(["full", "full", "probationary"]),
        "active": st.booleans() | st.just(True),
        # (day offset from 2025-12-20, hours, source)
        "study": st.lists(
            st.tuples(
                st.integers(0, 390),
                st.floats(0.1, 12, allow_nan=False),
                st.sampled_from(["video", "reading", "offline"]),
            ),
            max_size=6,
        ),
        "completed": st.lists(st.booleans(), min_size=2, max_size=2),
        "attempts": st.lists(st.lists(st.floats(0, 100, allow_nan=False), max_size=2), min_size=2, max_size=2),
    }
)

target_strategy = st.fixed_dictionaries(
    {
        "required_hours": st.sampled_from([None, 8.0, 32.0]),
        "offline_cap": st.sampled_from([None, 0.0, 5.0]),
        "courses": st.integers(0, 2),
        "quizzes": st.integers(0, 2),
        "quiz_pass": st.sampled_from([None, 75.0]),
        "weights": st.tuples(
            st.sampled_from([0.0, 0.2, 0.5]), st.sampled_from([0.3, 0.6]), st.sampled_from([0.2, 1.0])
        ),
        "today": st.integers(0, 364),
    }
)


def _reset() -> None:
    db.session.rollback()
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


def brute_force(target_spec, members, quiz_pass_own, today):
    """Each member's score computed directly from the generated data, without the database."""
    results = {}
    for index, member in enumerate(members):
        if not member["active"] or member["status"] != "full":
            continue
        online = offline = 0.0
        for offset, hours, source in member["study"]:
            day = date(2025, 12, 20) + timedelta(days=offset)
            if YEAR_START <= day <= YEAR_END:
                if source == "offline":
                    offline += round(hours, 3)
                else:
                    online += round(hours, 3)
        cap = target_spec["offline_cap"]
        counted = online + (offline if cap is None else min(offline, cap))
        parts = {}
        if target_spec["required_hours"]:
            parts["hours"] = min(counted / target_spec["required_hours"], 1.0)
        if target_spec["courses"]:
            parts["courses"] = sum(member["completed"][: target_spec["courses"]]) / target_spec["courses"]
        if target_spec["quizzes"]:
            passing = target_spec["quiz_pass"] if target_spec["quiz_pass"] is not None else quiz_pass_own
            passed = sum(
                1
                for scores in member["attempts"][: target_spec["quizzes"]]
                if scores and max(round(s, 2) for s in scores) >= passing
            )
            parts["quizzes"] = passed / target_spec["quizzes"]
        weights = dict(zip(("hours", "courses", "quizzes"), target_spec["weights"], strict=True))
        total = sum(weights[name] for name in parts)
        done = sum(member["completed"][: target_spec["courses"]]) if target_spec["courses"] else 0
        done += round(parts.get("quizzes", 0) * target_spec["quizzes"])
        if today == YEAR_START and counted <= 0 and not done:
            parts = {}  # the first day with nothing done: no grade yet
        if not parts:
            score = None
        elif total == 0:
            score = round(100 * sum(parts.values()) / len(parts) + 1e-9, 1)
        else:
            score = round(100 * sum(weights[name] / total * value for name, value in parts.items()) + 1e-9, 1)
        if score is None:
            grade = None
        else:
            grade = (
                "excellent" if score >= 90 else "good" if score >= 80 else "qualified" if score >= 60 else "unqualified"
            )
        results[index] = {"hours": counted, "score": score, "grade": grade, "branch": member["branch"]}
    return results


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target_spec=target_strategy, members=st.lists(member_strategy, min_size=1, max_size=10))
def test_report_numbers_equal_a_brute_force_computation(app, target_spec, members):
    _reset()
    study = StudyData()
    root = create_branch("党委", BranchKind.COMMITTEE, None)
    branches = [
        root,
        create_branch("甲支部", BranchKind.BRANCH, root.id),
        create_branch("乙支部", BranchKind.BRANCH, root.id),
    ]
    courses = [study.course(f"课程{i}") for i in range(2)]
    quizzes = [study.quiz(f"测验{i}", pass_percent=60) for i in range(2)]
    users = []
    for index, spec in enumerate(members):
        user = User(
            username=f"m{index}",
            name=f"党员{index:02d}",
            password_hash=password_hash(),
            status=MemberStatus(spec["status"]),
            role=Role.LEARNER,
            branch_id=branches[spec["branch"]].id,
            is_active=spec["active"],
            probation_end=date(2026, 12, 31) if spec["status"] == "probationary" else None,
            created_at=datetime(2020, 1, 1, tzinfo=UTC),
        )
        db.session.add(user)
        db.session.flush()
        users.append(user)
        merged = defaultdict(float)
        for offset, hours, source in spec["study"]:
            merged[(offset, source)] += round(hours, 3)
        for (offset, source), hours in merged.items():
            study.study(user, date(2025, 12, 20) + timedelta(days=offset), hours, StudySource(source))
        for course, done in zip(courses, spec["completed"], strict=True):
            if done:
                study.complete(user, course)
        for quiz, scores in zip(quizzes, spec["attempts"], strict=True):
            for number, score in enumerate(scores, start=1):
                study.attempt(user, quiz, round(score, 2), number=number)
    target = LearningTarget(
        name="随机目标",
        required_hours=target_spec["required_hours"],
        offline_cap_hours=target_spec["offline_cap"],
        weight_hours=target_spec["weights"][0],
        weight_courses=target_spec["weights"][1],
        weight_quizzes=target_spec["weights"][2],
    )
    target.set_audience(["full"], [], [])
    target.courses = [TargetCourse(course_id=c.id, title=c.title) for c in courses[: target_spec["courses"]]]
    target.quizzes = [
        TargetQuiz(quiz_id=q.id, title=q.title, pass_percent=target_spec["quiz_pass"])
        for q in quizzes[: target_spec["quizzes"]]
    ]
    db.session.add(target)
    db.session.commit()
    today = YEAR_START + timedelta(days=target_spec["today"])
    now = datetime(today.year, today.month, today.day, 4, tzinfo=UTC)
    expected = brute_force(target_spec, members, 60.0, today)

    run = services.recompute_target(target, now)
    db.session.commit()
    from lms.assessment.models import AssessmentResult

    stored = {
        r.user_id: r for r in db.session.scalars(sa.select(AssessmentResult).where(AssessmentResult.run_id == run.id))
    }
    assert set(stored) == {users[i].id for i in expected}
    for index, want in expected.items():
        got = stored[users[index].id]
        assert got.hours == pytest.approx(want["hours"], abs=1e-3)
        assert got.score == want["score"] and got.grade == want["grade"]

    admin = User(username="admin", name="管理员", password_hash=password_hash(), role=Role.ADMIN)
    db.session.add(admin)
    db.session.commit()
    report = reports.branch_report(admin, run, db.session.get(Branch, root.id))
    assert report.total.members == len(expected)
    scored = [w["score"] for w in expected.values() if w["score"] is not None]
    if scored:
        assert report.total.mean_score == pytest.approx(sum(scored) / len(scored))
    for grade in ("excellent", "good", "qualified", "unqualified"):
        assert report.total.by_grade[grade] == sum(1 for w in expected.values() if w["grade"] == grade)
    for line in report.lines:
        position = [b.id for b in branches].index(line.branch.id)
        in_branch = [w for w in expected.values() if w["branch"] == position]
        assert line.tally.members == len(in_branch)
        assert line.tally.hours_sum == pytest.approx(sum(w["hours"] for w in in_branch), abs=1e-2)


class StatementCounter:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.count = 0

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *args, **kwargs):
        self.count += 1


def _population(size: int, study: StudyData, course, quiz) -> None:
    branch = db.session.scalar(sa.select(Branch).where(Branch.name == "大支部")) or create_branch(
        "大支部", BranchKind.BRANCH, None
    )
    lesson = study.lesson()
    existing = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    db.session.execute(
        sa.insert(User),
        [
            {
                "username": f"p{existing + i}",
                "name": f"党员{existing + i}",
                "password_hash": "x",
                "branch_id": branch.id,
                "status": "full",
                "role": "learner",
            }
            for i in range(size)
        ],
    )
    ids = list(db.session.scalars(sa.select(User.id).where(User.branch_id == branch.id)))
    from lms.courses.models import StudyLedgerEntry

    db.session.execute(
        sa.insert(StudyLedgerEntry),
        [
            {"user_id": i, "day": date(2026, 3, 1), "source": "video", "lesson_id": lesson.id, "seconds": 3600.0}
            for i in ids[-size:]
        ],
    )
    # Each new member was listed for a closed meeting (present or absent, on the attendance component).
    study.meeting(branch.id, datetime(2026, 3, 10, 6, tzinfo=UTC),
                  {i: "present" if i % 3 else "absent" for i in ids[-size:]})  # fmt: skip
    db.session.commit()


def _statements(app, target, viewer, client_get) -> tuple[int, int]:
    now = datetime(2026, 7, 2, 4, tzinfo=UTC)
    services.recompute_target(target, now)  # so each measured run replaces an earlier one, as nightly
    db.session.commit()
    with StatementCounter(db.engine) as scoring:
        services.recompute_target(target, now)
        db.session.commit()
    with StatementCounter(db.engine) as page:
        assert client_get(f"/admin/reports/{target.id}").status_code == 200
    return scoring.count, page.count


def test_statement_count_of_scoring_and_report_does_not_grow_with_members(
    app, client, login, make_user, study, frozen_clock
):
    frozen_clock.set(datetime(2026, 7, 2, 4, tzinfo=UTC))
    course, quiz = study.course(), study.quiz()
    target = LearningTarget(name="全员", required_hours=32, score_attendance=True)
    target.courses = [TargetCourse(course_id=course.id, title=course.title)]
    target.quizzes = [TargetQuiz(quiz_id=quiz.id, title=quiz.title)]
    db.session.add(target)
    db.session.commit()
    admin = make_user(role=Role.ADMIN)
    login(admin)
    _population(10, study, course, quiz)
    small = _statements(app, target, admin, client.get)
    _population(990, study, course, quiz)
    large = _statements(app, target, admin, client.get)
    assert small == large, f"statements for 10 members {small}, for 1,000 members {large}"
    assert large[0] < 25
