"""Member pages of quizzes: the list, taking an attempt (autosave JSON), results, notebook, error reports."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from lms import clock
from lms.actions import run_action
from lms.auth import login
from lms.auth.login import session_identity
from lms.errors import DomainError, InvalidState, NotFound, ValidationFailed, wants_json
from lms.exams.questions import stems
from lms.exams.questions import types as grading
from lms.exams.quizzes import attempts as quiz_attempts
from lms.exams.quizzes import corrections, review, saves, setup, timing
from lms.exams.quizzes import notebook as quiz_notebook
from lms.exams.quizzes import results as quiz_results
from lms.exams.quizzes import status as quizzes_status
from lms.exams.quizzes.models import AttemptState, Quiz, QuizAttempt, QuizKind
from lms.exams.quizzes.review import format_seconds, question_views
from lms.extensions import db, limiter, login_manager
from lms.inputs import body_limit, checks_own_body, json_object, page_arg

bp = Blueprint("exams", __name__, url_prefix="/quizzes")


@bp.app_template_filter("duration")
def duration_filter(seconds) -> str:
    return format_seconds(seconds)


@bp.app_template_filter("stem")
def stem_filter(stem, length: int | None = None):
    """A question stem with its blank markers shown as labelled gaps (the one place that does it)."""
    return stems.stem_html(stem, length)


@bp.app_template_filter("points")
def points_filter(value) -> str:
    """Points and percentages without trailing zeros: 2, 1.5, 66.67."""
    if value is None:
        return "—"
    return f"{float(value):.2f}".rstrip("0").rstrip(".")


def home_panel(user) -> str | None:
    """The home page's "My quizzes": open quizzes, attempts in progress and soonest deadlines first."""
    now = clock.utcnow()
    statuses = quizzes_status.quiz_statuses(user, timing.visible_quizzes(user), now, finalize=False)
    current = [s for s in statuses if s.availability in (timing.Availability.OPEN, timing.Availability.IN_PROGRESS)]
    if not current:
        return None
    current.sort(key=lambda s: (s.availability != timing.Availability.IN_PROGRESS, s.deadline is None, s.deadline))
    return render_template("exams/_home_panel.html", statuses=current[:5], more=len(current) - 5)


def _quiz_or_404(quiz_id: int) -> Quiz:
    quiz = db.session.get(Quiz, quiz_id)
    if quiz is None or not timing.may_see(quiz, current_user):
        raise NotFound(_l("This quiz does not exist or is not open to you."))
    return quiz


@bp.route("/")
@login_required
def index():
    now = clock.utcnow()
    statuses = quizzes_status.quiz_statuses(current_user, timing.visible_quizzes(current_user), now)
    db.session.commit()
    return render_template("exams/index.html", statuses=statuses, now=now)


@bp.route("/<int:quiz_id>")
@login_required
def quiz(quiz_id: int):
    quiz = _quiz_or_404(quiz_id)
    now = clock.utcnow()
    status = quizzes_status.quiz_status(quiz, current_user, now)
    db.session.commit()
    return render_template(
        "exams/quiz.html",
        quiz=quiz,
        status=status,
        question_count=setup.question_count(quiz),
        total_points=setup.total_points(quiz),
        now=now,
    )


@bp.route("/<int:quiz_id>/start", methods=["POST"])
@login_required
def start(quiz_id: int):
    quiz = _quiz_or_404(quiz_id)
    return run_action(
        lambda: quiz_attempts.start_attempt(quiz, current_user, clock.utcnow()),
        to=lambda attempt: url_for(".attempt", attempt_id=attempt.id),
        failed_to=url_for(".quiz", quiz_id=quiz.id),
    )


def _touch(attempt_id: int):
    """Load the member's attempt and close it if overdue (the "next request" of DESIGN §4)."""
    now = clock.utcnow()
    attempt = quiz_attempts.get_own_attempt(attempt_id, current_user)
    if timing.is_overdue(attempt, now):
        attempt = quiz_attempts.finalize_if_overdue(attempt, now)
        db.session.commit()
    return attempt, now


@bp.route("/attempts/<int:attempt_id>")
@login_required
def attempt(attempt_id: int):
    attempt, now = _touch(attempt_id)
    quiz = db.session.get(Quiz, attempt.quiz_id)
    if quiz.kind in _ATTEMPT_LINKS:
        # e.g. a contest attempt lives on the contest's own pages (its quiz has no page of its own).
        return redirect(_ATTEMPT_LINKS[quiz.kind]([attempt])[attempt.id])
    if attempt.state == AttemptState.IN_PROGRESS:
        return render_template(
            "exams/take.html",
            attempt=attempt,
            quiz=quiz,
            questions=question_views(attempt.questions, show_answers=False),
            remaining=timing.remaining_seconds(attempt, now),
            accepts_saves=timing.accepts_saves(attempt, now),
        )
    show_answers = quiz_results.review_shows_answers(attempt, quiz, now)
    return render_template(
        "exams/result.html",
        attempt=attempt,
        quiz=quiz,
        passed=quiz_results.passed(attempt.score_percent, quiz.pass_percent),
        show_answers=show_answers,
        answers_open_at=quiz_results.answers_open_at(quiz) if not show_answers else None,
        questions=question_views(attempt.questions, show_answers=True) if show_answers else [],
        notebook_kind=quiz.kind == QuizKind.NOTEBOOK,
    )


def _answers_json(attempt) -> dict:
    """Each question's saved answer (choices as shown), sequence number and answered mark: never the key."""
    return {
        str(question.position): {
            "response": review.shown_response(question),
            "seq": question.client_seq,
            "answered": grading.is_answered(question.snapshot.type, question.response),
        }
        for question in attempt.questions
    }


@bp.route("/attempts/<int:attempt_id>/state")
@login_required
def attempt_state(attempt_id: int):
    """The attempt as the server has it: for a page coming back online or from sleep."""
    attempt, now = _touch(attempt_id)
    body = {
        "ok": True,
        "state": str(attempt.state),
        "remaining_seconds": timing.remaining_seconds(attempt, now),
        "accepts_saves": timing.accepts_saves(attempt, now),
        "result_url": url_for(".attempt", attempt_id=attempt.id),
    }
    if attempt.state == AttemptState.IN_PROGRESS:
        body["answers"] = _answers_json(attempt)
    return jsonify(body)


def _save_limit() -> str:
    return current_app.config.get("QUIZ_SAVE_LIMIT", "300 per minute")


def _user_key() -> str:
    identity = session_identity()  # not ``current_user``: the save view does not load the member
    if identity is not None:
        return f"quiz-save:{identity[0]}"
    return f"quiz-save:{current_user.get_id() if current_user.is_authenticated else request.remote_addr}"


def _flask_login_identity() -> tuple[int, int] | None:
    """(id, session version) of Flask-Login's current user (e.g. logged in by a remember-me cookie)."""
    if not current_user.is_authenticated:
        return None
    return current_user.id, current_user.session_version


@bp.route("/attempts/<int:attempt_id>/answers", methods=["POST"])
@limiter.limit(_save_limit, key_func=_user_key, scope="quiz-save")
@body_limit(16 * 1024)
@checks_own_body
def save(attempt_id: int):
    """Autosave of one answer: ``{"position": 3, "response": {...}, "seq": 7}`` (JSON, CSRF header).

    The login is checked without loading the member (the heartbeat's fast path): the
    session's (id, session version) is checked against the member's row in the save's
    own SELECT (``saves.prepare_save``: active, same session version, no forced password
    change); a session without it (a remember-me cookie) goes through Flask-Login.
    """
    if session_identity() is None and not current_user.is_authenticated:
        return login_manager.unauthorized()  # before the body is read
    payload = json_object()
    position = payload.get("position")
    if not isinstance(position, int) or isinstance(position, bool):
        position = None  # answered 400 once the login is checked
    try:
        # A connection of its own, not the session's (on PostgreSQL the thread's kept one: no
        # checkout ping); if this request leads the group commit its batches go on it.
        committer = saves.SaveCommitter.of(current_app._get_current_object())
        with committer.request_connection() as connection:
            prepared, refusal = _as_member(lambda user_id, version: _prepare(
                connection, attempt_id, user_id, version, position, payload))  # fmt: skip
            if refusal is not None:
                return refusal
            if prepared is None:
                return jsonify(ok=False, error=str(_l("The save could not be read; reload the page."))), 400
            # Group-committed with the process's other saves: answered once it is committed.
            now = clock.utcnow()
            result = committer.submit(prepared, now, connection=connection)
        if isinstance(result, str):
            quiz_attempts.refuse_save(result, attempt_id, current_user, now)
    except InvalidState as error:
        db.session.commit()  # keeps the overdue attempt closed on the way
        return jsonify(
            ok=False, final=True, error=str(error.message), result_url=url_for(".attempt", attempt_id=attempt_id)
        ), 409
    except DomainError as error:
        db.session.rollback()
        return jsonify(ok=False, error=str(error.message)), error.status_code
    return jsonify(  # committed by the batch; the request's own session wrote nothing
        ok=True,
        applied=result.applied,
        position=result.position,
        seq=result.seq,
        response=result.response,
        answered=result.answered,
        saved_at=result.saved_at.isoformat() if result.saved_at else None,
        remaining_seconds=result.remaining_seconds,
    )


login.SELF_CHECKED_ENDPOINTS.add("exams.save")
login.SELF_CHECKED_ENDPOINTS.add("exams.submit")


def _as_member(action):
    """(``action(user_id, session_version)``, None) for the session's login, or (None, the refusing response).

    The action checks the login itself (``saves.StaleLogin``: the member's row read in its
    own first query). A login the session holds but the row refuses is tried again as
    Flask-Login's current user (a remember-me cookie may log the member in anew).
    """
    identity = session_identity() or _flask_login_identity()
    if identity is None:
        return None, login_manager.unauthorized()
    try:
        try:
            return action(*identity), None
        except saves.StaleLogin as refused:
            fallback = _flask_login_identity() if refused.outcome == saves.LOGIN else None
            if fallback is None or fallback == identity:
                raise
            db.session.rollback()
            return action(*fallback), None
    except saves.StaleLogin as refused:
        db.session.rollback()
        if refused.outcome == saves.FORCED_CHANGE:
            return None, redirect(url_for("auth.change_password"))
        return None, login_manager.unauthorized()


as_member = _as_member  # also the contest start's and submit's (``contests.views``)


def _prepare(connection, attempt_id: int, user_id: int, session_version: int, position: int | None, payload: dict):
    """The save prepared for the member (whose login it checks); None for a malformed position."""
    if position is None:
        saves.check_login(user_id, session_version, connection=connection)
        return None
    return saves.prepare_save(attempt_id, user_id, position, payload.get("response"), payload.get("seq"),
                              session_version=session_version, connection=connection)  # fmt: skip


@bp.route("/ping", methods=["POST"])
@login_required
@body_limit(4 * 1024)
def ping():
    """A logged-in JSON POST that does nothing (session and CSRF checked, no write): lets a
    page test its connection, and is the reference ``benchmarks/quiz_submit.py`` measures saves against."""
    return jsonify(ok=True)


@bp.route("/attempts/<int:attempt_id>/submit", methods=["POST"])
def submit(attempt_id: int):
    """The member submits (JSON or a form); the login is checked as a save's, without loading the member."""
    now = clock.utcnow()
    attempt, refusal = _as_member(lambda user_id, version: quiz_attempts.submit_attempt(
        attempt_id, user_id, now, session_version=version))  # fmt: skip
    if refusal is not None:
        return refusal
    state = attempt.state
    db.session.commit()  # read before: the commit expires the attempt, which would be loaded again
    target = url_for(".attempt", attempt_id=attempt_id)
    if wants_json():
        return jsonify(ok=True, state=str(state), redirect=target)
    if state == AttemptState.ABANDONED:
        flash(_l("Time ran out before the attempt was submitted, so it does not count."), "warning")
    return redirect(target)


@bp.route("/attempts/<int:attempt_id>/questions/<int:position>/report", methods=["POST"])
@login_required
@body_limit(16 * 1024)
def report(attempt_id: int, position: int):
    """纠错: the member reports an error in a question they were shown."""
    text = json_object().get("text") if request.is_json else request.form.get("text")
    try:
        corrections.report_question(current_user, attempt_id, position, str(text or ""), clock.utcnow())
    except ValidationFailed as error:
        db.session.rollback()
        if wants_json():
            return jsonify(ok=False, error=str(error.message)), 422
        flash(error.message, "danger")
        return redirect(url_for(".attempt", attempt_id=attempt_id))
    db.session.commit()
    message = str(_l("Thank you. The administrator will check this question."))
    if wants_json():
        return jsonify(ok=True, message=message)
    flash(message, "success")
    return redirect(url_for(".attempt", attempt_id=attempt_id) + f"#q{position}")


# Quiz kinds whose attempts live on a higher domain's pages (a contest's attempts on the
# contest's pages): that domain registers, in its ``init_app``, a function that gives the URL
# of each of a list of attempts of that kind.
AttemptLinks = Callable[[Sequence[QuizAttempt]], dict[int, str]]
_ATTEMPT_LINKS: dict[QuizKind, AttemptLinks] = {}


def register_attempt_links(kind: QuizKind, links: AttemptLinks) -> None:
    _ATTEMPT_LINKS[kind] = links


def _attempt_links(attempts: Sequence[QuizAttempt]) -> dict[int, str]:
    links = {}
    for kind, resolve in _ATTEMPT_LINKS.items():
        own = [a for a in attempts if a.quiz.kind == kind]
        if own:
            links.update(resolve(own))
    return {a.id: links.get(a.id) or url_for(".attempt", attempt_id=a.id) for a in attempts}


@bp.route("/mine")
@login_required
def my_attempts():
    page = page_arg()
    pagination = quiz_results.member_attempts(current_user, page=page)
    links = _attempt_links(pagination.items)
    return render_template("exams/mine.html", pagination=pagination, links=links)


@bp.route("/notebook")
@login_required
def notebook_page():
    tag = request.args.get("tag", "").strip()
    book = quiz_notebook.notebook(current_user, clock.utcnow(), tag=tag)
    entries = [(entry, question_views([entry.attempt_question], show_answers=True)[0]) for entry in book.entries]
    return render_template("exams/notebook.html", book=book, entries=entries, tag=tag)


@bp.route("/notebook/practice", methods=["POST"])
@login_required
def notebook_practice():
    tag = request.form.get("tag", "").strip()
    return run_action(
        lambda: quiz_notebook.start_practice(current_user, clock.utcnow(), tag=tag),
        to=lambda attempt: url_for(".attempt", attempt_id=attempt.id),
        failed_to=url_for(".notebook_page"),
        failed_category="warning",
    )


@bp.route("/notebook/<int:entry_id>/remove", methods=["POST"])
@login_required
def notebook_remove(entry_id: int):
    quiz_notebook.remove_entry(current_user, entry_id, clock.utcnow())
    db.session.commit()
    flash(_l("The question was taken out of your notebook."), "success")
    return redirect(url_for(".notebook_page", tag=request.form.get("tag", "")))


@bp.route("/reports")
@login_required
def my_reports():
    return render_template("exams/my_reports.html", reports=corrections.reports_of(current_user))
