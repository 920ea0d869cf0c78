"""Demo quizzes (idempotent): a quiz open to all, an exam for probationary members, a
practice quiz, and finished attempts of some demo members.

The questions come from the question-bank demo (``demo_banks``, run before this
module) when it is there, else from a small bank "示例题库" made here.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import sqlalchemy as sa

from lms import clock
from lms.auth.models import MemberStatus, User
from lms.exams.questions.models import Question, QuestionBank, QuestionType
from lms.exams.quizzes import attempts as quiz_attempts
from lms.exams.quizzes import setup
from lms.exams.quizzes.models import OverdueHandling, Quiz, QuizAttempt, ReviewPolicy
from lms.extensions import db

BANK_NAME = "示例题库"

S, M, TF, F = QuestionType.SINGLE, QuestionType.MULTIPLE, QuestionType.TRUE_FALSE, QuestionType.FILL

# (type, stem, options, answer, tags, explanation)
DEMO_QUESTIONS = [
    (
        S,
        "中国共产党第一次全国代表大会于哪一年召开？",
        ["1919年", "1921年", "1927年", "1949年"],
        {"choice": 1},
        ["党史"],
        "1921年7月，党的一大在上海召开，最后一天的会议转移到浙江嘉兴南湖的游船上举行，宣告中国共产党正式成立。",
    ),
    (
        S,
        "党的最高领导机关是（ ）。",
        ["党的全国代表大会和它所产生的中央委员会", "中央政治局", "中央书记处", "中央军事委员会"],
        {"choice": 0},
        ["党章"],
        "《中国共产党章程》规定，党的最高领导机关，是党的全国代表大会和它所产生的中央委员会。",
    ),
    (
        S,
        "党的根本组织原则是（ ）。",
        ["民主集中制", "集体领导", "党管干部", "实事求是"],
        {"choice": 0},
        ["党章"],
        "民主集中制是民主基础上的集中和集中指导下的民主相结合，是党的根本组织原则。",
    ),
    (
        S,
        "预备党员的预备期为（ ）。",
        ["半年", "一年", "两年", "三年"],
        {"choice": 1},
        ["党章", "组织生活"],
        "党章规定，预备党员的预备期为一年，从支部大会通过其为预备党员之日算起。",
    ),
    (
        S,
        "党员没有正当理由，连续（ ）不参加党的组织生活，或不交纳党费，或不做党所分配的工作，就被认为是自行脱党。",
        ["三个月", "六个月", "九个月", "十二个月"],
        {"choice": 1},
        ["党章"],
        "见《中国共产党章程》第九条。",
    ),
    (
        S,
        "党支部党员大会一般每（ ）召开1次。",
        ["月", "季度", "半年", "年"],
        {"choice": 1},
        ["组织生活"],
        "《中国共产党支部工作条例（试行）》规定，党员大会一般每季度召开1次。",
    ),
    (
        M,
        "“三会一课”中的“三会”是指（ ）。",
        ["支部党员大会", "支部委员会", "党小组会", "民主生活会"],
        {"choices": [0, 1, 2]},
        ["组织生活"],
        "“三会一课”：支部党员大会、支部委员会、党小组会和按时上好党课。",
    ),
    (
        M,
        "党的三大优良作风是（ ）。",
        ["理论联系实际", "密切联系群众", "批评与自我批评", "艰苦奋斗"],
        {"choices": [0, 1, 2]},
        ["党史"],
        "理论联系实际、密切联系群众、批评与自我批评是党的三大优良作风。",
    ),
    (
        M,
        "以下哪些属于党章规定的党员权利？（ ）",
        [
            "参加党的有关会议，阅读党的有关文件，接受党的教育和培训",
            "在党的会议上和党报党刊上，参加关于党的政策问题的讨论",
            "行使表决权、选举权，有被选举权",
            "领取党组织发放的生活补贴",
        ],
        {"choices": [0, 1, 2]},
        ["党章"],
        "见《中国共产党章程》第四条。党员权利中没有领取生活补贴一项。",
    ),
    (
        TF,
        "预备党员有表决权、选举权和被选举权。",
        [],
        {"value": False},
        ["党章"],
        "预备党员的义务同正式党员一样；权利除了没有表决权、选举权和被选举权以外，也同正式党员一样。",
    ),
    (
        TF,
        "党的基层组织是党在社会基层组织中的战斗堡垒，是党的全部工作和战斗力的基础。",
        [],
        {"value": True},
        ["党章"],
        "见《中国共产党章程》第五章。",
    ),
    (
        TF,
        "年满十六岁的中国工人、农民、军人、知识分子和其他社会阶层的先进分子可以申请加入中国共产党。",
        [],
        {"value": False},
        ["党章"],
        "党章规定的是年满十八岁。",
    ),
    (
        F,
        "党的根本宗旨是{{1}}。",
        [],
        {"blanks": [["全心全意为人民服务"]]},
        ["党章"],
        "全心全意为人民服务是党的根本宗旨。",
    ),
    (
        F,
        "党的最高理想和最终目标是实现{{1}}。",
        [],
        {"blanks": [["共产主义"]]},
        ["党章"],
        "党的最高理想和最终目标是实现共产主义。",
    ),
    (
        F,
        "中国共产党成立于{{1}}年，党的一大最后一天的会议转移到浙江嘉兴{{2}}的游船上举行。",
        [],
        {"blanks": [["1921", "一九二一"], ["南湖"]]},
        ["党史"],
        "1921年，嘉兴南湖红船。",
    ),
]


def demo_bank() -> tuple[QuestionBank, list[Question]]:
    from lms.exams.questions.demo import DEMO_BANK

    for name in (DEMO_BANK, BANK_NAME):
        bank = db.session.scalar(sa.select(QuestionBank).where(QuestionBank.name == name))
        questions = [] if bank is None else _enabled_questions(bank)
        if len(questions) >= 12:
            return bank, questions
    bank = db.session.scalar(sa.select(QuestionBank).where(QuestionBank.name == BANK_NAME))
    if bank is None:
        bank = QuestionBank(name=BANK_NAME, description="先锋学堂演示用的党章党史题目。")
        db.session.add(bank)
        db.session.flush()
    questions = _enabled_questions(bank)
    if not questions:
        for kind, stem, options, answer, tags, explanation in DEMO_QUESTIONS:
            question = Question(
                bank_id=bank.id,
                type=kind,
                stem=stem,
                options=options,
                answer=answer,
                tags=tags,
                explanation=explanation,
                points=2.0 if kind in (M, F) else 1.0,
                difficulty=3,
            )
            db.session.add(question)
            questions.append(question)
        db.session.flush()
    return bank, questions


def _enabled_questions(bank: QuestionBank) -> list[Question]:
    return list(
        db.session.scalars(
            sa.select(Question)
            .where(Question.bank_id == bank.id, Question.is_disabled.is_(False))
            .order_by(Question.id)
        )
    )


def _quiz(title: str, settings: setup.QuizSettings, now: datetime) -> tuple[Quiz, bool]:
    quiz = db.session.scalar(sa.select(Quiz).where(Quiz.title == title))
    if quiz is not None:
        return quiz, False
    settings.title = title
    return setup.create_quiz(settings, created_by=None, now=now), True


def raw_response(question, right: bool) -> dict:
    """A response in shown order: the key when ``right``, else a plausible mistake."""
    snapshot, order = question.snapshot, question.option_order
    key = snapshot.answer
    if snapshot.type == S:
        choice = key["choice"] if right else (key["choice"] + 1) % len(order)
        return {"choice": order.index(choice)}
    if snapshot.type == M:
        choices = key["choices"] if right else key["choices"][:-1]
        return {"choices": [order.index(c) for c in choices]}
    if snapshot.type == TF:
        return {"value": key["value"] if right else not key["value"]}
    return {"blanks": [accepted[0] if right else "不清楚" for accepted in key["blanks"]]}


def _finished_attempt(quiz: Quiz, user: User, started: datetime, right_share: float, rng: random.Random) -> None:
    attempt = quiz_attempts.start_attempt(quiz, user, started, rng=rng)
    moment = started
    for question in attempt.questions:
        moment += timedelta(seconds=rng.randint(20, 70))
        right = rng.random() < right_share
        quiz_attempts.save_answer(attempt.id, user, question.position, raw_response(question, right), 1, moment)
    quiz_attempts.submit_attempt(attempt.id, user, moment + timedelta(seconds=30))


def seed_demo() -> list[str]:
    """Create the demo bank, quizzes and attempts once; return the lines to print."""
    now = clock.utcnow()
    bank, questions = demo_bank()
    week_ago = now - timedelta(days=7)
    quiz, created = _quiz(
        "党章党规知识测验",
        setup.QuizSettings(
            title="",
            description="本测验共 8 题：5 道固定题，另从题库随机抽取 3 道判断题。限时 20 分钟，可作答 3 次，取最高分。",
            time_limit_seconds=20 * 60,
            open_at=week_ago,
            close_at=now + timedelta(days=30),
            attempts_allowed=3,
            pass_percent=60,
            shuffle_options=True,
            partial_credit=True,
            review_policy=ReviewPolicy.AFTER_SUBMIT,
        ),
        now,
    )
    if created:
        fixed = [q for q in questions if q.type != TF][:5]
        setup.add_fixed_questions(quiz, [q.id for q in fixed])
        setup.add_draw_rule(quiz, bank_id=bank.id, question_type=TF, tag="", count=3, points=1)
        setup.publish_quiz(quiz, now=now)
    exam, created = _quiz(
        "预备党员转正前党章考试",
        setup.QuizSettings(
            title="",
            description="预备党员转正前的党章知识考试。限时 30 分钟，只能作答一次，80 分及格；考试结束后公布答案。",
            time_limit_seconds=30 * 60,
            open_at=week_ago,
            close_at=now + timedelta(days=14),
            attempts_allowed=1,
            pass_percent=80,
            shuffle_questions=True,
            shuffle_options=True,
            review_policy=ReviewPolicy.AFTER_CLOSE,
            overdue_handling=OverdueHandling.AUTO_SUBMIT,
            audience_statuses=[str(MemberStatus.PROBATIONARY)],
        ),
        now,
    )
    if created:
        setup.add_draw_rule(exam, bank_id=bank.id, question_type=S, tag="", count=4, points=10)
        setup.add_draw_rule(exam, bank_id=bank.id, question_type=M, tag="", count=2, points=15)
        setup.add_draw_rule(exam, bank_id=bank.id, question_type=TF, tag="", count=3, points=10)
        setup.publish_quiz(exam, now=now)
    practice, created = _quiz(
        "党史每日一练",
        setup.QuizSettings(
            title="", description="不限时、不限次数的练习，不计入成绩。", is_practice=True, shuffle_questions=True
        ),
        now,
    )
    if created:
        setup.add_draw_rule(practice, bank_id=None, question_type=None, tag="党史", count=3, points=1)
        setup.publish_quiz(practice, now=now)
    db.session.flush()

    has_attempts = db.session.scalar(sa.select(QuizAttempt.id).where(QuizAttempt.quiz_id == quiz.id).limit(1))
    lines = [f"Demo quizzes: {quiz.title}, {exam.title} (probationary members), {practice.title} (practice)."]
    if has_attempts is None:
        rng = random.Random(2026)
        takers = {"member": 0.6, "member2": 0.9, "secretary": 0.8, "member3": 0.4}
        users = {u.username: u for u in db.session.scalars(sa.select(User).where(User.username.in_(takers)))}
        for offset, (username, share) in enumerate(takers.items()):
            if username in users:
                started = now - timedelta(days=2, hours=offset)
                _finished_attempt(quiz, users[username], started, share, rng)
        lines.append("  with finished attempts of member, member2, secretary and member3.")
    return lines
