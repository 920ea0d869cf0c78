"""Member pages of contests (lobby, attempt, result, live board, certificates) and challenge mode.

The attempt itself is the quizzes' page and autosave (``exams/take.html``,
``quiz.js``, ``exams.save`` and ``exams.attempt_state``); this blueprint adds the
contest's lobby, its own submit (which lands on the contest result), the
page-hidden counter and the board. The board JSON is served from the cache
(``contest_board.board_payload``): polling costs no query per viewer.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from lms import clock
from lms.actions import run_action
from lms.auth.login import SELF_CHECKED_ENDPOINTS, session_identity, vouch_for
from lms.auth.models import Role
from lms.auth.permissions import get_branch_or_404
from lms.downloads import download
from lms.errors import DomainError, InvalidState, NotFound, wants_json
from lms.exams.contests import attempt_page, board_poll, closing, member_read, phases, taking
from lms.exams.contests import banner as contest_banner
from lms.exams.contests import board as contest_board
from lms.exams.contests import challenge as challenges
from lms.exams.contests.models import Contest, DrawMode
from lms.exams.quizzes import attempts as quiz_attempts
from lms.exams.quizzes import results, timing
from lms.exams.quizzes import setup as quiz_setup
from lms.exams.quizzes import views as quiz_views
from lms.exams.quizzes.models import AttemptState
from lms.exams.quizzes.review import question_views
from lms.extensions import db, limiter, login_manager
from lms.inputs import body_limit, json_object

bp = Blueprint("contests", __name__, url_prefix="/contests")


def home_panel(user) -> str | None:
    """The home page's contests: open ones (and attempts in progress) first, then upcoming."""
    now = clock.utcnow()
    current = [
        status
        for status in taking.member_statuses(user, phases.visible_contests(user, now), now)
        if status.phase in (phases.Phase.OPEN, phases.Phase.UPCOMING)
    ]
    if not current:
        return None
    return render_template("exams/contests/_home_panel.html", statuses=current[:5], more=len(current) - 5, now=now)


def attempt_links(attempts) -> dict[int, str]:
    """Where each contest attempt is taken (in progress) or shown (finished): the contest's pages."""
    query = sa.select(Contest.quiz_id, Contest.id).where(Contest.quiz_id.in_({a.quiz_id for a in attempts}))
    contest_ids = dict(db.session.execute(query).all())
    return {
        a.id: url_for("contests.take", contest_id=contest_ids[a.quiz_id])
        if a.state == AttemptState.IN_PROGRESS
        else url_for("contests.result", contest_id=contest_ids[a.quiz_id], attempt=a.id)
        for a in attempts
        if a.quiz_id in contest_ids
    }


def _contest_or_404(contest_id: int) -> Contest:
    contest = db.session.get(Contest, contest_id)
    if contest is None or not phases.may_see(contest, current_user):
        raise NotFound(_l("This contest does not exist or is not open to you."))
    return contest


def _finalize_if_due(contest: Contest, now) -> None:
    """Freeze the standings here if the close has passed and the job has not run (one commit)."""
    if closing.ensure_final(contest, now):
        db.session.commit()


@bp.route("/")
@login_required
def index():
    now = clock.utcnow()
    statuses = taking.member_statuses(current_user, phases.visible_contests(current_user, now), now)
    return render_template(
        "exams/contests/index.html", statuses=statuses, challenges=challenges.active_challenges(), now=now
    )


@bp.route("/<int:contest_id>")
@login_required
def lobby(contest_id: int):
    contest = _contest_or_404(contest_id)
    now = clock.utcnow()
    _finalize_if_due(contest, now)
    status = taking.member_status(contest, current_user, now)
    standing = contest_board.own_standing(contest, current_user) if status.phase == phases.Phase.FINAL else None
    return render_template(
        "exams/contests/lobby.html",
        contest=contest,
        quiz=contest.quiz,
        status=status,
        standing=standing,
        question_count=_question_count(contest),
        total_points=_total_points(contest),
        seconds_to_open=max(int((contest.quiz.open_at - now).total_seconds()), 0),
        seconds_to_close=max(int((contest.quiz.close_at - now).total_seconds()), 0),
        board_mode=contest_board.board_mode(contest, now),
        now=now,
    )


def _question_count(contest: Contest) -> int:
    if contest.frozen_draw:
        return len(contest.frozen_draw)
    return quiz_setup.question_count(contest.quiz)


def _total_points(contest: Contest) -> float:
    if contest.frozen_draw:
        return round(sum(float(points) for _id, points in contest.frozen_draw), 4)
    return quiz_setup.total_points(contest.quiz)


@bp.route("/<int:contest_id>/start", methods=["POST"])
def start(contest_id: int):
    """Start the member's attempt (or return to the one in progress).

    The member's login, the contest with its quiz and the member's override are read in one
    statement (``member_read.start_read``), not by Flask-Login's user load and the ORM; the
    login is checked there as ``load_user`` and ``force_password_change`` check it (a session
    without it, or refused, goes through Flask-Login: a remember-me cookie). A one-set contest's
    questions come from the process's cache while no edit changed them (``cache``).
    """
    read, refusal = quiz_views.as_member(
        lambda user_id, version: member_read.start_read(db.session.connection(), contest_id, user_id, version)
    )
    if refusal is not None:
        return refusal
    contest, member, override, question_set, own = read
    if contest is None or not phases.may_see(contest, member):
        raise NotFound(_l("This contest does not exist or is not open to you."))
    settings = timing.effective_settings(contest.quiz, member.id, override, read_override=False)
    if contest.draw_mode != DrawMode.SAME:
        contest = _contest_or_404(contest_id)  # each member's draw reads the quiz's rules (ORM)
    return run_action(
        lambda: taking.start_contest_attempt(
            contest, member, clock.utcnow(), settings=settings, question_set=question_set, own=own
        ),
        to=url_for(".take", contest_id=contest_id),
        failed_to=url_for(".lobby", contest_id=contest_id),
    )


SELF_CHECKED_ENDPOINTS.add("contests.start")


@bp.route("/<int:contest_id>/take")
def take(contest_id: int):
    """The member's attempt in progress (every tab gets the same one), on the quizzes' page.

    The member's login, the contest, the attempt and the bell are read in one statement
    (``attempt_page``) instead of Flask-Login's user load and the ORM contest; a login it
    cannot vouch for (stale, deactivated, forced password change, remember-me only), a missing
    contest or an overdue attempt takes the ordinary path with its refusals.
    """
    page = attempt_page.read(contest_id, session_identity())
    if page is None or not vouch_for(page.member):
        return _take_ordinary(contest_id)
    if not phases.may_see(page.contest, page.member):
        raise NotFound(_l("This contest does not exist or is not open to you."))
    now = clock.utcnow()
    if page.attempt is None:
        return redirect(url_for(".result", contest_id=contest_id))
    if timing.is_overdue(page.attempt, now):
        return _take_ordinary(contest_id)  # closes the attempt on the way
    g.unread_notifications = page.unread_notifications  # the bell's badge (notices.views.bell)
    return _attempt_page(page.contest, page.attempt, page.questions, now)


SELF_CHECKED_ENDPOINTS.add("contests.take")


def _take_ordinary(contest_id: int):
    """The attempt page with Flask-Login's user and the ORM contest (as ``force_password_change`` and
    ``login_required`` would check them before an ordinary view)."""
    if current_user.is_authenticated and current_user.must_change_password:
        return redirect(url_for("auth.change_password"))
    return _take_logged_in(contest_id)


@login_required
def _take_logged_in(contest_id: int):
    contest = _contest_or_404(contest_id)
    now = clock.utcnow()
    attempt, questions = taking.open_attempt_page(contest, current_user)  # rows: one read, no ORM objects
    if attempt is not None and timing.is_overdue(attempt, now):
        overdue = taking.open_attempt_of(contest, current_user)
        if overdue is not None:
            quiz_attempts.finalize_if_overdue(overdue, now)
            db.session.commit()
        attempt = None
    if attempt is None:
        return redirect(url_for(".result", contest_id=contest.id))
    return _attempt_page(contest, attempt, questions, now)


def _attempt_page(contest, attempt, questions, now):
    return render_template(
        "exams/contests/take.html",
        contest=contest,
        attempt=attempt,
        quiz=contest.quiz,
        questions=question_views(questions, show_answers=False),
        remaining=timing.remaining_seconds(attempt, now),
        accepts_saves=timing.accepts_saves(attempt, now),
        submit_url=url_for(".submit", contest_id=contest.id, attempt_id=attempt.id),
        result_url=url_for(".result", contest_id=contest.id),
    )


@bp.route("/<int:contest_id>/attempts/<int:attempt_id>/submit", methods=["POST"])
def submit(contest_id: int, attempt_id: int):
    """The member submits; the login, the contest and the attempt are read in one statement
    (``member_read.submit_read``), the login checked as a start's."""
    now = clock.utcnow()
    committed = {}

    def commit(attempt):
        # The grades' writes and the COMMIT went in one round trip on PostgreSQL (``submit_attempt``).
        committed["state"] = attempt.state  # read before: the commit expires the attempt
        db.session.commit()

    def submit_as(user_id: int, session_version: int):
        contest, member, attempt = member_read.submit_read(
            db.session.connection(), contest_id, attempt_id, user_id, session_version
        )
        if contest is None or not phases.may_see(contest, member):
            raise NotFound(_l("This contest does not exist or is not open to you."))
        return taking.submit_read_attempt(contest, attempt, user_id, now, commit=commit)

    attempt, refusal = quiz_views.as_member(submit_as)
    if refusal is not None:
        return refusal
    if "state" in committed:
        state = committed["state"]
    else:  # nothing graded (final already, or closed as overdue): committed here
        state = attempt.state
        db.session.commit()
    target = url_for(".result", contest_id=contest_id)
    if wants_json():
        return jsonify(ok=True, state=str(state), redirect=target)
    return redirect(target)


SELF_CHECKED_ENDPOINTS.add("contests.submit")


def _hidden_limit() -> str:
    return current_app.config.get("CONTEST_HIDDEN_LIMIT", "120 per minute")


def _answer_limit() -> str:
    return current_app.config.get("CHALLENGE_ANSWER_LIMIT", "60 per minute")


def _member_key() -> str:
    """Rate limits count per member (many members share an office's address)."""
    return current_user.get_id() if current_user.is_authenticated else request.remote_addr


@bp.route("/<int:contest_id>/attempts/<int:attempt_id>/hidden", methods=["POST"])
@login_required
@limiter.limit(_hidden_limit, key_func=_member_key, scope="contest-hidden")
@body_limit(4 * 1024)
def page_hidden(contest_id: int, attempt_id: int):
    """The attempt page was hidden (tab switched, app left): counted for the admin to see."""
    contest = _contest_or_404(contest_id)
    counted = taking.record_page_hidden(contest, attempt_id, current_user, clock.utcnow())
    db.session.commit()
    return jsonify(ok=True, counted=counted)


@bp.route("/<int:contest_id>/result")
@login_required
def result(contest_id: int):
    contest = _contest_or_404(contest_id)
    now = clock.utcnow()
    _finalize_if_due(contest, now)
    status = taking.member_status(contest, current_user, now)
    if status.open_attempt is not None and status.phase == phases.Phase.OPEN:
        return redirect(url_for(".take", contest_id=contest.id))
    attempt = status.best or (status.finished[-1] if status.finished else None)
    chosen = request.args.get("attempt", type=int)
    if chosen is not None:
        # One of the member's own finished attempts (from "My attempts"); anything else shows the best.
        attempt = next((a for a in status.finished if a.id == chosen), attempt)
    if attempt is None:
        return redirect(url_for(".lobby", contest_id=contest.id))
    standing = contest_board.own_standing(contest, current_user) if status.phase == phases.Phase.FINAL else None
    rank = None
    mode = contest_board.board_mode(contest, now)
    if standing is not None:
        rank = (standing.rank, len(contest_board.standings(contest)))
    elif mode == "live" and attempt.state == AttemptState.FINISHED:
        rank = contest_board.live_rank(contest, current_user)
    show_answers = results.review_shows_answers(attempt, contest.quiz, now)
    return render_template(
        "exams/contests/result.html",
        contest=contest,
        quiz=contest.quiz,
        attempt=attempt,
        status=status,
        rank=rank,
        standing=standing,
        board_mode=mode,
        show_answers=show_answers,
        questions=question_views(attempt.questions, show_answers=True) if show_answers else [],
    )


@bp.route("/<int:contest_id>/board")
@login_required
def board(contest_id: int):
    contest = _contest_or_404(contest_id)
    now = clock.utcnow()
    _finalize_if_due(contest, now)
    return render_template(
        "exams/contests/board.html",
        contest=contest,
        quiz=contest.quiz,
        payload=contest_board.board_payload(contest, current_user, now),
        freeze_at=phases.freeze_at(contest),
    )


@bp.route("/<int:contest_id>/board.json")
def board_json(contest_id: int):
    """The live board for polling: served from the cache (one ranking query per refresh for everyone).

    The viewer's login and the contest are read in one query (``board_poll``) instead of
    Flask-Login's user load and the ORM contest; a login it cannot vouch for (stale,
    deactivated, forced password change, remember-me only) or a missing contest takes
    the ordinary path with its refusals.
    """
    polled = board_poll.poll_view(contest_id, session_identity())
    if polled is None:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.must_change_password:
            return redirect(url_for("auth.change_password"))
        contest, viewer = _contest_or_404(contest_id), current_user
    else:
        contest, viewer = polled
        if not phases.may_see(contest, viewer):
            raise NotFound(_l("This contest does not exist or is not open to you."))
    response = jsonify(contest_board.board_payload(contest, viewer, clock.utcnow()))
    response.headers["Cache-Control"] = "private, no-store"
    return response


SELF_CHECKED_ENDPOINTS.add("contests.board_json")


@bp.route("/<int:contest_id>/banner")
@login_required
def banner(contest_id: int):
    contest = _contest_or_404(contest_id)
    path = contest_banner.banner_path(contest.id, contest.banner_name)
    if path is None:
        abort(404)
    response = send_file(path, max_age=3600, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _own_certificate(contest: Contest):
    now = clock.utcnow()
    _finalize_if_due(contest, now)
    if contest.finalized_at is None:
        raise InvalidState(_l("Certificates are issued once the contest has closed."))
    standing = contest_board.own_standing(contest, current_user)
    if standing is None:
        raise NotFound(_l("You did not take part in this contest, so there is no certificate."))
    return closing.certificate_for(contest, standing)


@bp.route("/<int:contest_id>/certificate")
@login_required
def certificate(contest_id: int):
    contest = _contest_or_404(contest_id)
    try:
        certificate = _own_certificate(contest)
    except DomainError as error:
        flash(error.message, "warning")
        return redirect(url_for(".lobby", contest_id=contest.id))
    return render_template(
        "exams/contests/certificates.html",
        contest=contest,
        certificates=[certificate],
        pdf_url=url_for(".certificate_pdf", contest_id=contest.id),
        back_url=url_for(".lobby", contest_id=contest.id),
    )


@bp.route("/<int:contest_id>/certificate.pdf")
@login_required
def certificate_pdf(contest_id: int):
    contest = _contest_or_404(contest_id)
    try:
        certificate = _own_certificate(contest)
        payload = render_certificates_pdf([certificate])
    except DomainError as error:
        flash(error.message, "warning")
        return redirect(url_for(".certificate", contest_id=contest.id))
    return pdf_response(payload, f"certificate-{contest.id}.pdf")


def render_certificates_pdf(certificates: list) -> bytes:
    """The certificates as one PDF (one A4 landscape page each)."""
    html = render_template("exams/contests/certificate_pdf.html", certificates=certificates)
    return closing.certificates_pdf(html, base_url=request.url_root)


def pdf_response(payload: bytes, filename: str):
    return download(payload, mimetype="application/pdf", filename=filename, fallback=filename, inline=True)


# --- Challenge mode (挑战答题) ---------------------------------------------------------------------


@bp.route("/challenges/")
@login_required
def challenges_index():
    items = challenges.active_challenges()
    if len(items) == 1:
        return redirect(url_for(".challenge_page", challenge_id=items[0].id))
    bests = {item.id: challenges.personal_best(item, current_user) for item in items}
    return render_template("exams/contests/challenges.html", challenges=items, bests=bests)


@bp.route("/challenges/<int:challenge_id>")
@login_required
def challenge_page(challenge_id: int):
    challenge = challenges.get_active(challenge_id)
    now = clock.utcnow()
    week = challenges.week_start(now)
    branch_id = current_user.branch_id
    return render_template(
        "exams/contests/challenge.html",
        challenge=challenge,
        best=challenges.personal_best(challenge, current_user),
        board=challenges.weekly_board(challenge, branch_id, week),
        branch_name=challenges.branch_name(branch_id),
        week=week,
        recent=challenges.recent_runs(challenge, current_user),
    )


def _game_state(challenge, run, now) -> dict:
    question = challenges.current_question(run, challenge, now) if run is not None else None
    return {
        "ok": True,
        "run_id": run.id if run is not None and question is not None else None,
        "streak": run.streak if run is not None else 0,
        "question": question.as_json() if question else None,
        "best": challenges.personal_best(challenge, current_user),
    }


@bp.route("/challenges/<int:challenge_id>/state")
@login_required
def challenge_state(challenge_id: int):
    """The game under way (for a reload or a second tab): the same question and the time left."""
    challenge = challenges.get_active(challenge_id)
    now = clock.utcnow()
    run = challenges.open_run(challenge, current_user, now)
    db.session.commit()  # a timed-out game is closed on the way
    return jsonify(_game_state(challenge, run, now))


@bp.route("/challenges/<int:challenge_id>/start", methods=["POST"])
@login_required
def challenge_start(challenge_id: int):
    challenge = challenges.get_active(challenge_id)
    now = clock.utcnow()
    try:
        run = challenges.start_run(challenge, current_user, now)
    except DomainError as error:
        db.session.rollback()
        return jsonify(ok=False, error=str(error.message)), error.status_code
    db.session.commit()
    return jsonify(_game_state(challenge, run, now))


@bp.route("/challenges/<int:challenge_id>/answer", methods=["POST"])
@login_required
@limiter.limit(_answer_limit, key_func=_member_key, scope="challenge-answer")
@body_limit(16 * 1024)
def challenge_answer(challenge_id: int):
    """``{"run_id": 5, "number": 3, "response": {...}}``: judged here, the key comes back only now."""
    challenge = challenges.get_active(challenge_id)
    payload = json_object()
    if not isinstance(payload.get("run_id"), int) or not isinstance(payload.get("number"), int):
        return jsonify(ok=False, error=str(_l("The answer could not be read; reload the page."))), 400
    try:
        judgement = challenges.answer(
            challenge, current_user, payload["run_id"], payload["number"], payload.get("response"), clock.utcnow()
        )
    except DomainError as error:
        db.session.rollback()
        return jsonify(ok=False, error=str(error.message)), error.status_code
    db.session.commit()
    return jsonify(judgement.as_json())


@bp.route("/challenges/<int:challenge_id>/board")
@login_required
def challenge_board(challenge_id: int):
    """The weekly board of a branch: the member's own, or one in a secretary's scope (``?branch=``)."""
    challenge = challenges.get_active(challenge_id)
    branch_id = current_user.branch_id
    asked = request.args.get("branch", type=int)
    if asked and asked != branch_id:
        if current_user.role not in (Role.ADMIN, Role.SUBTREE_ADMIN, Role.SECRETARY):
            abort(404)
        branch_id = get_branch_or_404(current_user, asked).id
    week = challenges.week_start(clock.utcnow())
    return jsonify(
        ok=True,
        week=week.isoformat(),
        branch=challenges.branch_name(branch_id),
        rows=challenges.weekly_board(challenge, branch_id, week),
    )
