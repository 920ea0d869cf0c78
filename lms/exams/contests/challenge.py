"""Challenge mode (挑战答题): an always-open game over the question banks.

A member starts a run and is asked one question at a time, each with its own
short timer kept on the server (``seconds_per_question``, 30 s by default), until
the first wrong answer or timeout. The run holds the question being asked and
when it must be answered; the question is sent without its key, and the key and
explanation are sent only in the answer's judgement, after the server graded it.
A reply later than the question's deadline (plus ``ANSWER_GRACE_SECONDS`` for the
network) is a timeout whatever it says.

One running game per member and challenge (``challenge_runs.open_slot``): a second
tab resumes it with the time that is left. Personal best = the longest streak;
the weekly board ranks a branch's members by their best streak of the week
(fewer seconds spent break ties), with the contest ranking rule.

Every function takes ``now``, flushes and never commits.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from markupsafe import escape

from lms import cache, clock
from lms.auth.models import Branch, User
from lms.errors import InvalidState, NotFound, ValidationFailed
from lms.exams.contests.models import Challenge, ChallengeEnd, ChallengeRun
from lms.exams.contests.ranking import Entry, rank_entries
from lms.exams.questions import question_html, stems
from lms.exams.questions import types as grading
from lms.exams.questions.models import Outcome, Question, QuestionBank, QuestionType
from lms.extensions import db

log = logging.getLogger(__name__)

ANSWER_GRACE_SECONDS = 2
MIN_SECONDS, MAX_SECONDS = 5, 300
BOARD_SECONDS = 10


# --- Setup -----------------------------------------------------------------------------------


@dataclass
class ChallengeSettings:
    title: str
    description: str = ""
    bank_ids: Sequence[int] = ()
    tag: str = ""
    seconds_per_question: int = 30
    is_active: bool = True


def clean_settings(settings: ChallengeSettings) -> ChallengeSettings:
    """Check a challenge's settings; raise ValidationFailed naming the field at fault."""
    settings.title = (settings.title or "").strip()
    settings.description = (settings.description or "").strip()
    settings.tag = (settings.tag or "").strip()
    if not settings.title:
        raise ValidationFailed(_l("A challenge needs a title."), "title")
    if len(settings.title) > 200:
        raise ValidationFailed(_l("The title is longer than 200 characters."), "title")
    if not MIN_SECONDS <= settings.seconds_per_question <= MAX_SECONDS:
        raise ValidationFailed(
            _l("Each question's timer is between %(low)d and %(high)d seconds.", low=MIN_SECONDS, high=MAX_SECONDS),
            "seconds_per_question",
        )
    ids = sorted({int(i) for i in settings.bank_ids})
    if ids and len(db.session.scalars(sa.select(QuestionBank.id).where(QuestionBank.id.in_(ids))).all()) != len(ids):
        raise ValidationFailed(_l("That question bank does not exist."), "bank_ids")
    settings.bank_ids = ids
    return settings


def _apply(challenge: Challenge, settings: ChallengeSettings) -> None:
    for name in ("title", "description", "tag", "seconds_per_question", "is_active"):
        setattr(challenge, name, getattr(settings, name))
    challenge.bank_ids = list(settings.bank_ids)


def create_challenge(settings: ChallengeSettings, *, created_by: User | None, now: datetime) -> Challenge:
    """Create a challenge; an active one needs questions to ask."""
    challenge = Challenge(created_by_id=created_by.id if created_by else None, created_at=now, updated_at=now)
    _apply(challenge, clean_settings(settings))
    _check_has_questions(challenge)
    db.session.add(challenge)
    db.session.flush()
    return challenge


def update_challenge(challenge: Challenge, settings: ChallengeSettings, *, now: datetime) -> Challenge:
    """Change a challenge (runs under way keep going with the new rules from their next question)."""
    _apply(challenge, clean_settings(settings))
    _check_has_questions(challenge)
    challenge.updated_at = now
    db.session.flush()
    return challenge


def _check_has_questions(challenge: Challenge) -> None:
    if challenge.is_active and not candidate_ids(challenge):
        raise ValidationFailed(_l("No enabled question matches these banks and knowledge point."), "bank_ids")


def settings_of(challenge: Challenge) -> ChallengeSettings:
    return ChallengeSettings(
        title=challenge.title,
        description=challenge.description,
        bank_ids=list(challenge.bank_ids or []),
        tag=challenge.tag,
        seconds_per_question=challenge.seconds_per_question,
        is_active=challenge.is_active,
    )


def candidate_ids(challenge: Challenge) -> list[int]:
    """The enabled questions the challenge asks from (one indexed query)."""
    from lms.exams.questions.banks import tag_clause

    query = sa.select(Question.id).where(Question.is_disabled.is_(False))
    if challenge.bank_ids:
        query = query.where(Question.bank_id.in_([int(i) for i in challenge.bank_ids]))
    if challenge.tag:
        query = query.where(tag_clause(challenge.tag))
    return list(db.session.scalars(query.order_by(Question.id)))


def active_challenges() -> list[Challenge]:
    return list(db.session.scalars(sa.select(Challenge).where(Challenge.is_active.is_(True)).order_by(Challenge.id)))


def get_active(challenge_id: int) -> Challenge:
    challenge = db.session.get(Challenge, challenge_id)
    if challenge is None or not challenge.is_active:
        raise NotFound(_l("This challenge does not exist or is closed."))
    return challenge


# --- Questions as the member sees them --------------------------------------------------------


@dataclass(frozen=True)
class AskedQuestion:
    """A question being asked: never its key.

    The page shows a question as the quiz pages do (the ``stem`` and ``qtext`` filters):
    ``stem_html``, each option's ``html`` and the pieces of ``stem_parts`` (a fill-in's
    text around its blanks) are safe HTML, cleaned or escaped here; ``stem`` and each
    option's ``text`` are the plain text.
    """

    number: int
    type: str
    type_label: str
    stem: str
    stem_parts: list | None
    options: list[dict]
    blanks: int
    seconds_left: float
    seconds_total: int

    def as_json(self) -> dict:
        return {
            "number": self.number,
            "type": self.type,
            "type_label": self.type_label,
            "stem": stems.stem_text(self.stem),
            "stem_html": str(stems.stem_html(self.stem)),
            "stem_parts": self.stem_parts,
            "options": self.options,
            "blanks": self.blanks,
            "seconds_left": self.seconds_left,
            "seconds_total": self.seconds_total,
        }


def asked_question(run: ChallengeRun, question: Question, challenge: Challenge, now: datetime) -> AskedQuestion:
    """The current question of ``run`` for the page: stem and options in the run's order, no key."""
    kind = QuestionType(question.type)
    rules = grading.kind_of(kind)
    blanks = rules.blanks(question.answer)
    options = []
    if rules.has_options:
        for shown, original in enumerate(run.option_order or []):
            options.append(
                {
                    "index": shown,
                    "letter": grading.letter(shown),
                    "text": question_html.plain(question.options[original]),
                    "html": str(question_html.render(question.options[original])),
                }
            )
    left = max((run.question_deadline - now).total_seconds(), 0.0)
    return AskedQuestion(
        number=run.question_number,
        type=str(kind),
        type_label=str(rules.label),
        stem=question.stem,
        stem_parts=_stem_parts(question.stem, blanks) if blanks else None,
        options=options,
        blanks=blanks,
        seconds_left=round(left, 1),
        seconds_total=challenge.seconds_per_question,
    )


def _stem_parts(stem: str, blanks: int) -> list | None:
    """A fill-in stem as safe HTML pieces around its blank numbers (see ``types.stem_parts``)."""
    if question_html.is_html(stem):  # split the cleaned whole, so the page joins balanced HTML around the inputs
        return grading.stem_parts(str(question_html.html_of(stem)), blanks)
    parts = grading.stem_parts(stem, blanks)
    return [part if isinstance(part, int) else str(escape(part)) for part in parts] if parts else None


def revealed_answer(question: Question, option_order: list[int]) -> dict:
    """The key of an answered question, with choices numbered as the member saw them."""
    rules = grading.kind_of(question.type)
    key = question.answer or {}
    position = {original: shown for shown, original in enumerate(option_order or [])}
    shown = rules.reveal(key, position)
    if not rules.has_options:
        return shown
    # The letters alone mean nothing once the question is gone from the screen: name each option.
    numbers = [shown["choice"]] if "choice" in shown else list(shown.get("choices", []))
    order = option_order or list(range(len(question.options or [])))
    shown["options"] = [
        {
            "letter": grading.letter(n),
            "text": question_html.plain(question.options[order[n]]),
            "html": str(question_html.render(question.options[order[n]])),
        }
        for n in numbers
        if 0 <= n < len(order)
    ]
    return shown


# --- Playing ---------------------------------------------------------------------------------


def week_start(now: datetime) -> date:
    """The local Monday of the week ``now`` falls in (the weekly board's week)."""
    day = clock.local_day(now)
    return day - timedelta(days=day.weekday())


def _expired(run: ChallengeRun, now: datetime) -> bool:
    return run.question_deadline is not None and now > run.question_deadline + timedelta(seconds=ANSWER_GRACE_SECONDS)


def _end(run: ChallengeRun, reason: ChallengeEnd, now: datetime) -> None:
    run.open_slot = None
    run.end_reason = reason
    run.finished_at = (
        min(now, run.question_deadline) if reason == ChallengeEnd.TIMEOUT and run.question_deadline else now
    )
    db.session.flush()


def _issue_next(run: ChallengeRun, challenge: Challenge, now: datetime, rng: random.Random) -> Question | None:
    """Ask the next question (never one this run asked before); end the run when none is left."""
    asked = set(run.asked_ids or [])
    remaining = [i for i in candidate_ids(challenge) if i not in asked]
    if not remaining:
        _end(run, ChallengeEnd.CLEARED, now)
        return None
    question = db.session.get(Question, rng.choice(remaining))
    order = list(range(len(question.options or []))) if grading.kind_of(question.type).has_options else []
    rng.shuffle(order)
    run.question_id = question.id
    run.option_order = order
    run.question_number += 1
    run.issued_at = now
    run.question_deadline = now + timedelta(seconds=challenge.seconds_per_question)
    run.asked_ids = [*run.asked_ids, question.id]
    db.session.flush()
    return question


def _lock_run(run_id: int, user: User) -> ChallengeRun:
    run = db.session.scalar(
        sa.select(ChallengeRun)
        .where(ChallengeRun.id == run_id, ChallengeRun.user_id == user.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if run is None:
        raise NotFound(_l("This game does not exist."))
    return run


def open_run(challenge: Challenge, user: User, now: datetime) -> ChallengeRun | None:
    """The member's game under way; one whose question timed out is ended here (a write)."""
    run = db.session.scalar(
        sa.select(ChallengeRun).where(
            ChallengeRun.challenge_id == challenge.id, ChallengeRun.user_id == user.id, ChallengeRun.open_slot == 1
        )
    )
    if run is not None and _expired(run, now):
        run = _lock_run(run.id, user)
        if run.open_slot is not None and _expired(run, now):
            _end(run, ChallengeEnd.TIMEOUT, now)
        return None
    return run


def start_run(challenge: Challenge, user: User, now: datetime, *, rng: random.Random | None = None) -> ChallengeRun:
    """Start a new game (ending the member's unfinished one) and ask its first question.

    Two starts at once (two tabs) make one game: the loser returns the winner's.
    """
    if not challenge.is_active:
        raise InvalidState(_l("This challenge is closed."))
    rng = rng or random.SystemRandom()
    previous = open_run(challenge, user, now)
    if previous is not None:
        previous = _lock_run(previous.id, user)
        if previous.open_slot is not None:
            _end(previous, ChallengeEnd.ABANDONED, now)
    try:
        with db.session.begin_nested():
            run = ChallengeRun(
                challenge_id=challenge.id,
                user_id=user.id,
                branch_id=user.branch_id,
                week_start=week_start(now),
                open_slot=1,
                started_at=now,
                asked_ids=[],
            )
            db.session.add(run)
            db.session.flush()
            if _issue_next(run, challenge, now, rng) is None:
                raise InvalidState(_l("This challenge has no questions yet."))
    except sa.exc.IntegrityError:
        winner = open_run(challenge, user, now)
        if winner is None:
            raise
        return winner
    log.info("challenge %s: run %s started by user %s", challenge.id, run.id, user.id)
    return run


@dataclass
class Judgement:
    """The server's verdict on one answer (the key of that question is revealed here, and only here)."""

    correct: bool
    timed_out: bool
    streak: int
    best: int
    over: bool
    end_reason: str | None
    answer: dict | None = None
    explanation: str = ""  # as text; the page shows ``explanation_html``
    next_question: AskedQuestion | None = None
    new_best: bool = False
    explanation_html: str = ""

    def as_json(self) -> dict:
        return {
            "ok": True,
            "correct": self.correct,
            "timed_out": self.timed_out,
            "streak": self.streak,
            "best": self.best,
            "new_best": self.new_best,
            "over": self.over,
            "end_reason": self.end_reason,
            "answer": self.answer,
            "explanation": self.explanation,
            "explanation_html": self.explanation_html,
            "next_question": self.next_question.as_json() if self.next_question else None,
        }


def answer(
    challenge: Challenge,
    user: User,
    run_id: int,
    number: int,
    raw,
    now: datetime,
    *,
    rng: random.Random | None = None,
) -> Judgement:
    """Judge the member's answer to question ``number`` of their game, then ask the next one.

    A late answer (past the question's deadline plus the grace) is a timeout, a
    wrong one ends the game; either way the key and explanation are returned.
    Raises InvalidState for a game that is over or a question already answered,
    ValidationFailed for an answer that does not fit the question.
    """
    rng = rng or random.SystemRandom()
    run = _lock_run(run_id, user)
    if run.challenge_id != challenge.id:
        raise NotFound(_l("This game does not exist."))
    if run.open_slot is None:
        raise InvalidState(_l("This game is over; start a new one."))
    if number != run.question_number:
        raise InvalidState(_l("This question has been answered already."))
    best_before = personal_best(challenge, user)
    question = db.session.get(Question, run.question_id) if run.question_id else None
    if question is None:
        # The question was deleted while it was being asked: it counts for nothing.
        next_question = _issue_next(run, challenge, now, rng)
        return Judgement(
            correct=True,
            timed_out=False,
            streak=run.streak,
            best=best_before,
            over=next_question is None,
            end_reason=_reason(run),
            next_question=asked_question(run, next_question, challenge, now) if next_question else None,
        )
    kind = QuestionType(question.type)
    key = revealed_answer(question, run.option_order or [])
    explanation = question_html.plain(question.explanation)
    shown = str(question_html.render(question.explanation))  # as the quiz review shows it
    if _expired(run, now):
        _end(run, ChallengeEnd.TIMEOUT, now)
        best = max(best_before, run.streak)
        return Judgement(False, True, run.streak, best, True, _reason(run), key, explanation, explanation_html=shown)
    response = None
    if raw is not None:
        response = grading.parse_response(kind, run.option_order or [], grading.blank_count(question.answer), raw)
    verdict = grading.grade(kind, question.answer, response, 1.0)
    if verdict.outcome != Outcome.CORRECT:
        _end(run, ChallengeEnd.WRONG, now)
        best = max(best_before, run.streak)
        return Judgement(False, False, run.streak, best, True, _reason(run), key, explanation, explanation_html=shown)
    spent = min((now - run.issued_at).total_seconds(), float(challenge.seconds_per_question))
    run.streak += 1
    run.time_used_ms += int(max(spent, 0) * 1000)
    next_question = _issue_next(run, challenge, now, rng)
    best = max(best_before, run.streak)
    return Judgement(
        correct=True,
        timed_out=False,
        streak=run.streak,
        best=best,
        over=next_question is None,
        end_reason=_reason(run),
        answer=key,
        explanation=explanation,
        explanation_html=shown,
        next_question=asked_question(run, next_question, challenge, now) if next_question else None,
        new_best=run.streak > best_before,
    )


def _reason(run: ChallengeRun) -> str | None:
    return str(run.end_reason) if run.end_reason else None


def current_question(run: ChallengeRun, challenge: Challenge, now: datetime) -> AskedQuestion | None:
    """What the game asks now (for a reload or a second tab): the same question, the time left."""
    if run.open_slot is None or run.question_id is None:
        return None
    question = db.session.get(Question, run.question_id)
    if question is None:
        return None
    return asked_question(run, question, challenge, now)


# --- Records and boards ------------------------------------------------------------------------


def personal_best(challenge: Challenge, user: User) -> int:
    """The member's longest streak in this challenge."""
    return int(
        db.session.scalar(
            sa.select(sa.func.max(ChallengeRun.streak)).where(
                ChallengeRun.challenge_id == challenge.id, ChallengeRun.user_id == user.id
            )
        )
        or 0
    )


def weekly_board(challenge: Challenge, branch_id: int | None, week: date, *, limit: int = 50) -> list[dict]:
    """A branch's members ranked by their best streak of the week (cached ``BOARD_SECONDS``).

    Each member's best run is the longest streak, then the fewest seconds spent.
    """
    if branch_id is None:
        return []

    def compute() -> list[dict]:
        order = (ChallengeRun.streak.desc(), ChallengeRun.time_used_ms.asc(), ChallengeRun.started_at.asc())
        best = (
            sa.select(
                ChallengeRun.user_id,
                ChallengeRun.streak,
                ChallengeRun.time_used_ms,
                ChallengeRun.started_at,
                sa.func.row_number().over(partition_by=ChallengeRun.user_id, order_by=order).label("n"),
            )
            .where(
                ChallengeRun.challenge_id == challenge.id,
                ChallengeRun.week_start == week,
                ChallengeRun.branch_id == branch_id,
                ChallengeRun.streak > 0,
            )
            .subquery()
        )
        rows = db.session.execute(
            sa.select(best, User.name).join(User, User.id == best.c.user_id).where(best.c.n == 1)
        ).all()
        names = {row.user_id: row.name for row in rows}
        entries = [Entry(r.user_id, branch_id, r.streak, r.time_used_ms / 1000, r.started_at) for r in rows]
        return [
            {
                "rank": ranked.rank,
                "user_id": ranked.entry.user_id,
                "name": names[ranked.entry.user_id],
                "streak": int(ranked.entry.score),
                "seconds": round(ranked.entry.time_used_seconds, 1),
            }
            for ranked in rank_entries(entries)[:limit]
        ]

    return cache.cached(f"challenge-board:{challenge.id}:{week.isoformat()}:{branch_id}", BOARD_SECONDS, compute)


def branch_name(branch_id: int | None) -> str:
    if branch_id is None:
        return ""
    return db.session.scalar(sa.select(Branch.name).where(Branch.id == branch_id)) or ""


def recent_runs(challenge: Challenge, user: User, limit: int = 10) -> list[ChallengeRun]:
    """The member's latest finished games."""
    return list(
        db.session.scalars(
            sa.select(ChallengeRun)
            .where(
                ChallengeRun.challenge_id == challenge.id,
                ChallengeRun.user_id == user.id,
                ChallengeRun.open_slot.is_(None),
            )
            .order_by(ChallengeRun.started_at.desc())
            .limit(limit)
        )
    )
