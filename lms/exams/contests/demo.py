"""Demo contests (idempotent): a past contest with final standings, an upcoming one, and a challenge.

Runs after ``demo_quizzes`` and takes its questions from the same demo bank.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import sqlalchemy as sa

from lms import clock
from lms.auth.models import MemberStatus, User
from lms.exams.contests import challenge as challenges
from lms.exams.contests import closing, phases, setup, taking
from lms.exams.contests.models import BoardVisibility, Challenge, Contest, DrawMode
from lms.exams.questions.models import QuestionType
from lms.exams.quizzes import attempts
from lms.exams.quizzes.demo import demo_bank, raw_response
from lms.exams.quizzes.models import Quiz
from lms.extensions import db

PAST_TITLE = "“学党史、悟思想”党史知识竞赛"
UPCOMING_TITLE = "党章党规知识竞赛（第二季）"
CHALLENGE_TITLE = "党史挑战答题"

S, M, TF, F = QuestionType.SINGLE, QuestionType.MULTIPLE, QuestionType.TRUE_FALSE, QuestionType.FILL


def _existing(title: str) -> Contest | None:
    return db.session.scalar(sa.select(Contest).join(Quiz, Quiz.id == Contest.quiz_id).where(Quiz.title == title))


def _add_rules(contest: Contest, bank_id: int) -> None:
    for kind, count, points in ((S, 4, 5), (M, 2, 10), (TF, 3, 5), (F, 1, 10)):
        setup.add_draw_rule(
            contest, bank_id=bank_id, question_type=kind, tag="", difficulty=None, count=count, points=points
        )


def _past_contest(bank_id: int, now: datetime) -> Contest:
    opened = (now - timedelta(days=9)).replace(hour=1, minute=0, second=0, microsecond=0)  # 09:00 in Shanghai
    closed = opened + timedelta(hours=2)
    contest = setup.create_contest(
        setup.ContestSettings(
            title=PAST_TITLE,
            description="全体党员参加。共 10 题，限时 15 分钟，每人限答一次。按得分排名，得分相同时用时少者在前。",
            open_at=opened,
            close_at=closed,
            time_limit_seconds=15 * 60,
            board_visibility=BoardVisibility.FROZEN,
            freeze_minutes=30,
            certificate_top_n=3,
            prizes="一等奖 1 名、二等奖 2 名、三等奖 3 名，颁发荣誉证书；所有参赛党员可下载参赛证书。",
        ),
        created_by=None,
        now=opened - timedelta(days=3),
    )
    _add_rules(contest, bank_id)
    setup.publish_contest(contest, now=opened - timedelta(days=3), rng=random.Random(71))
    rng = random.Random(2021)
    members = db.session.scalars(sa.select(User).where(phases.eligible_clause(contest)).order_by(User.id)).all()
    shares = [0.95, 0.85, 0.7, 0.9, 0.6, 0.8, 0.5, 0.75]
    for index, member in enumerate(members):
        started = opened + timedelta(minutes=5 + 7 * index)
        attempt = taking.start_contest_attempt(contest, member, started, rng=rng)
        moment = started
        for question in attempt.questions:
            moment += timedelta(seconds=rng.randint(15, 50))
            right = rng.random() < shares[index % len(shares)]
            attempts.save_answer(attempt.id, member, question.position, raw_response(question, right), 1, moment)
        if index % 3 == 1:  # a page switch now and then, for the admin's fair-play column
            taking.record_page_hidden(contest, attempt.id, member, started + timedelta(minutes=1))
        taking.submit_contest_attempt(contest, attempt.id, member, moment + timedelta(seconds=20))
    closing.finalize_contest(contest, closed + timedelta(minutes=1))
    return contest


def _upcoming_contest(bank_id: int, now: datetime) -> Contest:
    opens = (now + timedelta(days=3)).replace(hour=1, minute=0, second=0, microsecond=0)  # 09:00 in Shanghai
    contest = setup.create_contest(
        setup.ContestSettings(
            title=UPCOMING_TITLE,
            description="正式党员、预备党员参加。每人题目按相同的题型和分值随机抽取，限时 20 分钟。",
            open_at=opens,
            close_at=opens + timedelta(hours=10),
            time_limit_seconds=20 * 60,
            draw_mode=DrawMode.PER_MEMBER,
            board_visibility=BoardVisibility.LIVE,
            board_size=20,
            prizes="前 3 名颁发荣誉证书。",
            audience_statuses=[str(MemberStatus.FULL), str(MemberStatus.PROBATIONARY)],
        ),
        created_by=None,
        now=now,
    )
    _add_rules(contest, bank_id)
    setup.publish_contest(contest, now=now)
    return contest


def seed_demo() -> list[str]:
    """Create the demo contests and challenge once; return the lines to print."""
    now = clock.utcnow()
    bank, _questions = demo_bank()
    lines = []
    if _existing(PAST_TITLE) is None:
        _past_contest(bank.id, now)
    if _existing(UPCOMING_TITLE) is None:
        _upcoming_contest(bank.id, now)
    lines.append(f"Demo contests: {PAST_TITLE} (closed, final standings), {UPCOMING_TITLE} (opens in 3 days).")
    if db.session.scalar(sa.select(Challenge.id).where(Challenge.title == CHALLENGE_TITLE)) is None:
        challenges.create_challenge(
            challenges.ChallengeSettings(
                title=CHALLENGE_TITLE,
                description="每题 30 秒，答错即止。看看你能连对多少题！",
                bank_ids=[bank.id],
                seconds_per_question=30,
            ),
            created_by=None,
            now=now,
        )
    lines.append(f"Demo challenge: {CHALLENGE_TITLE}.")
    return lines
