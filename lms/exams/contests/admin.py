"""Admin pages of contests and challenge mode.

Building contests and challenges is for admins; results (with the fair-play
counters), the export and certificates are open to secretaries too, filtered to
their branch subtree.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms import audit, clock
from lms.actions import run_action
from lms.auth.auditing import record_export
from lms.auth.forms import fill_audience_choices
from lms.auth.models import Role, User
from lms.auth.permissions import admin_required, member_scope_clause, secretary_required
from lms.downloads import download
from lms.errors import DomainError
from lms.exams.contests import board, phases, setup
from lms.exams.contests import challenge as challenges
from lms.exams.contests import closing as contest_closing
from lms.exams.contests.forms import DIFFICULTY_LABELS, ChallengeForm, ContestForm, ContestRuleForm
from lms.exams.contests.models import BoardVisibility, Challenge, Contest, DrawMode
from lms.exams.contests.views import pdf_response, render_certificates_pdf
from lms.exams.questions.models import Question, QuestionBank
from lms.exams.questions.types import type_labels
from lms.exams.quizzes import setup as quiz_setup
from lms.exams.quizzes.admin_setup import SetupPages, picker_context, with_bank_choices
from lms.exams.quizzes.forms import local_to_utc, utc_to_local
from lms.exams.quizzes.models import Quiz, QuizAttempt
from lms.exams.quizzes.review import question_views
from lms.extensions import db
from lms.spreadsheets import XLSX_MIMETYPE

bp = Blueprint("contest_admin", __name__, url_prefix="/admin/contests")


def _contest_or_404(contest_id: int) -> Contest:
    contest = db.session.get(Contest, contest_id)
    if contest is None:
        abort(404)
    return contest


def _snapshot(contest: Contest) -> dict:
    return {**audit.row_snapshot(contest), **{f"quiz.{k}": v for k, v in audit.row_snapshot(contest.quiz).items()}}


PAGES = SetupPages(
    kind="contest",
    snapshot=_snapshot,
    detail_url=lambda contest: url_for(".detail", contest_id=contest.id),
    pick_url=lambda contest: url_for(".pick_questions", contest_id=contest.id),
    label=lambda contest: contest.quiz.title,
)
_audit = PAGES.audit
_run = PAGES.run


def _finalize_if_due(contest: Contest) -> None:
    """Freeze the standings if the close has passed and the job has not run yet (one commit)."""
    if contest_closing.ensure_final(contest, clock.utcnow()):
        db.session.commit()


@bp.route("/")
@secretary_required
def index():
    now = clock.utcnow()
    rows = db.session.execute(
        sa.select(Contest, sa.func.count(QuizAttempt.id))
        .join(Quiz, Quiz.id == Contest.quiz_id)
        .outerjoin(QuizAttempt, QuizAttempt.quiz_id == Quiz.id)
        .group_by(Contest.id)
        .order_by(Quiz.open_at.desc(), Contest.id.desc())
    ).all()
    return render_template(
        "exams/contests/admin_index.html",
        rows=[(contest, count, phases.phase(contest, now)) for contest, count in rows],
        challenges=db.session.scalars(sa.select(Challenge).order_by(Challenge.id)).all(),
    )


# --- Settings --------------------------------------------------------------------------------------


def _settings_from(form: ContestForm) -> setup.ContestSettings:
    statuses, roles, branch_ids = form.audience_values()
    return setup.ContestSettings(
        title=form.title.data or "",
        description=form.description.data or "",
        open_at=local_to_utc(form.open_at.data),
        close_at=local_to_utc(form.close_at.data),
        time_limit_seconds=form.time_limit_minutes.data * 60 if form.time_limit_minutes.data else None,
        attempts_allowed=form.attempts_allowed.data if form.attempts_allowed.data is not None else 1,
        draw_mode=DrawMode(form.draw_mode.data),
        board_visibility=BoardVisibility(form.board_visibility.data),
        freeze_minutes=form.freeze_minutes.data or 0,
        board_size=form.board_size.data or 20,
        certificate_top_n=form.certificate_top_n.data or 0,
        prizes=form.prizes.data or "",
        shuffle_questions=form.shuffle_questions.data,
        shuffle_options=form.shuffle_options.data,
        partial_credit=form.partial_credit.data,
        answers_after_close=form.answers_after_close.data,
        audience_statuses=statuses,
        audience_roles=roles,
        audience_branch_ids=branch_ids,
    )


def _fill_form(form: ContestForm, contest: Contest) -> None:
    settings = setup.settings_of(contest)
    form.title.data = settings.title
    form.description.data = settings.description
    form.open_at.data = utc_to_local(settings.open_at)
    form.close_at.data = utc_to_local(settings.close_at)
    form.time_limit_minutes.data = settings.time_limit_seconds // 60 if settings.time_limit_seconds else None
    form.attempts_allowed.data = settings.attempts_allowed
    form.draw_mode.data = str(settings.draw_mode)
    form.board_visibility.data = str(settings.board_visibility)
    form.freeze_minutes.data = settings.freeze_minutes
    form.board_size.data = settings.board_size
    form.certificate_top_n.data = settings.certificate_top_n
    form.prizes.data = settings.prizes
    form.shuffle_questions.data = settings.shuffle_questions
    form.shuffle_options.data = settings.shuffle_options
    form.partial_credit.data = settings.partial_credit
    form.answers_after_close.data = settings.answers_after_close
    form.load_audience(contest.quiz)


def _save_banner(form: ContestForm, contest: Contest) -> None:
    """Store an uploaded banner (raises ValidationFailed on the ``banner`` field for a non-image)."""
    from lms.exams.contests import banner as contest_banner

    upload = form.banner.data
    if upload and getattr(upload, "filename", ""):
        setup.set_banner(contest, contest_banner.read_banner_upload(upload.stream))
    elif form.remove_banner.data and contest.banner_name:
        setup.remove_banner(contest)


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new():
    form = ContestForm()
    fill_audience_choices(form)
    if form.validate_on_submit():

        def create():
            contest = setup.create_contest(_settings_from(form), created_by=current_user, now=clock.utcnow())
            _save_banner(form, contest)
            _audit(contest, None, **_snapshot(contest))
            return contest

        done = run_action(
            create, form=form, to=PAGES.detail_url, success=_l("Contest created. Now choose its questions.")
        )
        if done:
            return done
    return render_template("exams/contests/admin_edit.html", form=form, contest=None), 422 if form.errors else 200


@bp.route("/<int:contest_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(contest_id: int):
    contest = _contest_or_404(contest_id)
    form = ContestForm()
    fill_audience_choices(form)
    if request.method == "GET":
        _fill_form(form, contest)
    if form.validate_on_submit():
        before = _snapshot(contest)

        def save():
            setup.update_contest(contest, _settings_from(form), now=clock.utcnow())
            _save_banner(form, contest)
            db.session.flush()
            _audit(contest, before)

        done = run_action(save, form=form, to=PAGES.detail_url(contest), success=_l("Changes saved."))
        if done:
            return done
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "exams/contests/admin_edit.html", form=form, contest=contest, attempts=quiz_setup.attempt_count(contest.quiz)
    ), status


# --- Questions and publishing ---------------------------------------------------------------------


def _rule_form() -> ContestRuleForm:
    return with_bank_choices(ContestRuleForm(prefix="rule"))


def _detail(contest: Contest, rule_form: ContestRuleForm, status: int = 200):
    now = clock.utcnow()
    frozen_ids = setup.frozen_question_ids(contest)
    frozen = {q.id: q for q in db.session.scalars(sa.select(Question).where(Question.id.in_(frozen_ids)))}
    return render_template(
        "exams/contests/admin_detail.html",
        contest=contest,
        quiz=contest.quiz,
        phase=phases.phase(contest, now),
        rule_form=rule_form,
        rule_available={rule.id: quiz_setup.available_for_rule(rule) for rule in contest.quiz.draw_rules},
        problems=setup.setup_problems(contest, now) if not contest.quiz.is_published else [],
        total_points=quiz_setup.total_points(contest.quiz),
        question_count=quiz_setup.question_count(contest.quiz),
        attempts=quiz_setup.attempt_count(contest.quiz),
        frozen=[(frozen[i], points) for i, points in contest.frozen_draw or [] if i in frozen],
        type_labels=type_labels(),
        difficulty_labels=DIFFICULTY_LABELS,
    ), status


@bp.route("/<int:contest_id>")
@admin_required
def detail(contest_id: int):
    return _detail(_contest_or_404(contest_id), _rule_form())


@bp.route("/<int:contest_id>/publish", methods=["POST"])
@admin_required
def publish(contest_id: int):
    contest = _contest_or_404(contest_id)
    return _run(contest, lambda: setup.publish_contest(contest, now=clock.utcnow()), _l("The contest is published."))


@bp.route("/<int:contest_id>/unpublish", methods=["POST"])
@admin_required
def unpublish(contest_id: int):
    contest = _contest_or_404(contest_id)
    return _run(contest, lambda: setup.unpublish_contest(contest), _l("The contest is hidden from members."))


@bp.route("/<int:contest_id>/delete", methods=["POST"])
@admin_required
def delete(contest_id: int):
    contest = _contest_or_404(contest_id)
    return PAGES.delete(
        contest, setup.delete_contest, success=_l("The contest was deleted."), index_url=url_for(".index")
    )


@bp.route("/<int:contest_id>/rules", methods=["POST"])
@admin_required
def add_rule(contest_id: int):
    contest = _contest_or_404(contest_id)
    form = _rule_form()
    return PAGES.add_rule(contest, form, setup.add_draw_rule) or _detail(contest, form, 422)


@bp.route("/<int:contest_id>/rules/<int:rule_id>/remove", methods=["POST"])
@admin_required
def remove_rule(contest_id: int, rule_id: int):
    contest = _contest_or_404(contest_id)
    return _run(contest, lambda: setup.remove_draw_rule(contest, rule_id), anchor="#rules")


@bp.route("/<int:contest_id>/questions")
@admin_required
def pick_questions(contest_id: int):
    """Search the banks and add chosen questions to the contest."""
    contest = _contest_or_404(contest_id)
    present = {qq.question_id for qq in contest.quiz.fixed_questions}
    return render_template(
        "exams/contests/admin_pick.html",
        contest=contest,
        quiz=contest.quiz,
        difficulty_labels=DIFFICULTY_LABELS,
        **picker_context(present, with_difficulty=True),
    )


@bp.route("/<int:contest_id>/questions/add", methods=["POST"])
@admin_required
def add_questions(contest_id: int):
    contest = _contest_or_404(contest_id)
    done = PAGES.add_questions(contest, lambda ids: setup.add_fixed_questions(contest, ids))
    return done or redirect(PAGES.pick_url(contest))


@bp.route("/<int:contest_id>/questions/<int:item_id>/remove", methods=["POST"])
@admin_required
def remove_question(contest_id: int, item_id: int):
    contest = _contest_or_404(contest_id)
    return _run(contest, lambda: setup.remove_fixed_question(contest, item_id), anchor="#fixed")


# --- Results, closing, export, certificates ---------------------------------------------------------


@bp.route("/<int:contest_id>/results")
@secretary_required
def results(contest_id: int):
    contest = _contest_or_404(contest_id)
    now = clock.utcnow()
    _finalize_if_due(contest)
    return render_template(
        "exams/contests/admin_results.html",
        contest=contest,
        quiz=contest.quiz,
        phase=phases.phase(contest, now),
        rows=contest_closing.results(contest, current_user),
        branches=board.branch_standings(contest) if contest.finalized_at else [],
        can_finalize=current_user.role == Role.ADMIN
        and contest.finalized_at is None
        and contest.quiz.is_published
        and now >= phases.finalizable_at(contest),
    )


@bp.route("/<int:contest_id>/finalize", methods=["POST"])
@admin_required
def finalize(contest_id: int):
    """Freeze the standings now (the job does it within 30 s of the close anyway)."""
    contest = _contest_or_404(contest_id)

    def finalize():
        contest_closing.finalize_contest(contest, clock.utcnow())
        _audit(contest, None, finalized_at=contest.finalized_at)

    return run_action(finalize, to=url_for(".results", contest_id=contest.id), success=_l("The standings are final."))


@bp.route("/<int:contest_id>/standings.xlsx")
@secretary_required
def export(contest_id: int):
    contest = _contest_or_404(contest_id)
    _finalize_if_due(contest)
    try:
        payload = contest_closing.export_standings(contest, current_user)
    except DomainError as error:
        flash(error.message, "warning")
        return redirect(url_for(".results", contest_id=contest.id))
    record_export("contest_standings", contest.id, label=contest.quiz.title)
    return download(
        payload,
        mimetype=XLSX_MIMETYPE,
        filename=f"{contest.quiz.title[:80]}-standings.xlsx",
        fallback=f"contest-{contest.id}-standings.xlsx",
    )


@bp.route("/<int:contest_id>/attempts/<int:attempt_id>")
@secretary_required
def attempt(contest_id: int, attempt_id: int):
    """One attempt with its answers (and the key once final), within the viewer's scope."""
    contest = _contest_or_404(contest_id)
    found = db.session.scalar(
        sa.select(QuizAttempt).where(
            QuizAttempt.id == attempt_id,
            QuizAttempt.quiz_id == contest.quiz_id,
            member_scope_clause(current_user, QuizAttempt.user_id),
        )
    )
    if found is None:
        abort(404)
    final = found.state != "in_progress"
    return render_template(
        "exams/contests/admin_attempt.html",
        contest=contest,
        quiz=contest.quiz,
        attempt=found,
        member=db.session.get(User, found.user_id),
        questions=question_views(found.questions, show_answers=final, show_score=final),
    )


def _scope_arg() -> str:
    return "all" if request.args.get("scope") == "all" else "top"


@bp.route("/<int:contest_id>/certificates")
@secretary_required
def certificates(contest_id: int):
    contest = _contest_or_404(contest_id)
    _finalize_if_due(contest)
    scope = _scope_arg()
    try:
        items = contest_closing.certificates(contest, scope=scope, viewer=current_user)
    except DomainError as error:
        flash(error.message, "warning")
        return redirect(url_for(".results", contest_id=contest.id))
    return render_template(
        "exams/contests/certificates.html",
        contest=contest,
        certificates=items,
        pdf_url=url_for(".certificates_pdf", contest_id=contest.id, scope=scope),
        back_url=url_for(".results", contest_id=contest.id),
    )


@bp.route("/<int:contest_id>/certificates.pdf")
@secretary_required
def certificates_pdf(contest_id: int):
    contest = _contest_or_404(contest_id)
    scope = _scope_arg()
    try:
        payload = render_certificates_pdf(contest_closing.certificates(contest, scope=scope, viewer=current_user))
    except DomainError as error:
        flash(error.message, "warning")
        return redirect(url_for(".certificates", contest_id=contest.id, scope=scope))
    record_export("contest_certificates", contest.id, label=contest.quiz.title)
    return pdf_response(payload, f"certificates-{contest.id}-{scope}.pdf")


# --- Challenge mode -----------------------------------------------------------------------------------


def _challenge_form() -> ChallengeForm:
    form = ChallengeForm()
    form.bank_ids.choices = [
        (bank.id, bank.name) for bank in db.session.scalars(sa.select(QuestionBank).order_by(QuestionBank.name))
    ]
    return form


def _challenge_settings(form: ChallengeForm) -> challenges.ChallengeSettings:
    return challenges.ChallengeSettings(
        title=form.title.data or "",
        description=form.description.data or "",
        bank_ids=form.bank_ids.data or [],
        tag=form.tag.data or "",
        seconds_per_question=form.seconds_per_question.data or 30,
        is_active=form.is_active.data,
    )


@bp.route("/challenges/new", methods=["GET", "POST"])
@admin_required
def new_challenge():
    form = _challenge_form()
    if form.validate_on_submit():

        def create():
            item = challenges.create_challenge(_challenge_settings(form), created_by=current_user, now=clock.utcnow())
            audit.record("challenge.create", "challenge", item.id, after=audit.row_snapshot(item), label=item.title)

        done = run_action(create, form=form, to=url_for(".index") + "#challenges", success=_l("Challenge saved."))
        if done:
            return done
    return render_template("exams/contests/admin_challenge.html", form=form, challenge=None), (
        422 if form.errors else 200
    )


@bp.route("/challenges/<int:challenge_id>/edit", methods=["GET", "POST"])
@admin_required
def edit_challenge(challenge_id: int):
    item = db.session.get(Challenge, challenge_id)
    if item is None:
        abort(404)
    form = _challenge_form()
    if request.method == "GET":
        settings = challenges.settings_of(item)
        form.title.data = settings.title
        form.description.data = settings.description
        form.bank_ids.data = list(settings.bank_ids)
        form.tag.data = settings.tag
        form.seconds_per_question.data = settings.seconds_per_question
        form.is_active.data = settings.is_active
    if form.validate_on_submit():
        before = audit.row_snapshot(item)

        def save():
            challenges.update_challenge(item, _challenge_settings(form), now=clock.utcnow())
            db.session.flush()
            audit.record("challenge.update", "challenge", item.id, before, audit.row_snapshot(item), label=item.title)

        done = run_action(save, form=form, to=url_for(".index") + "#challenges", success=_l("Challenge saved."))
        if done:
            return done
    return render_template("exams/contests/admin_challenge.html", form=form, challenge=item), (
        422 if form.errors else 200
    )
