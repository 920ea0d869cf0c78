"""Admin pages of quizzes: settings, questions and draw rules, overrides, results, statistics, error reports.

Building quizzes is for admins; results, statistics and attempt reviews are open
to secretaries too, filtered to their branch subtree.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from lms import audit, clock
from lms.auth import services as auth_services
from lms.auth.auditing import record_content, record_export
from lms.auth.forms import fill_audience_choices
from lms.auth.models import User
from lms.auth.permissions import (
    admin_required,
    check_audience,
    content_in_scope,
    manager_required,
    member_scope_clause,
    scoped_branch_tree,
    secretary_required,
)
from lms.downloads import download
from lms.errors import DomainError, show_on_form
from lms.exams.questions.banks import tag_clause
from lms.exams.questions.models import Question, QuestionBank, QuestionType
from lms.exams.questions.types import type_labels
from lms.exams.quizzes import attempts as quiz_attempts
from lms.exams.quizzes import corrections, setup
from lms.exams.quizzes import stats as quiz_stats
from lms.exams.quizzes.forms import (
    DrawRuleForm,
    OverrideForm,
    QuestionPointsForm,
    QuizForm,
    ResolveReportForm,
    local_to_utc,
    utc_to_local,
)
from lms.exams.quizzes.models import QuestionReport, Quiz, QuizAttempt, QuizKind, QuizOverride, ReportStatus
from lms.exams.quizzes.review import question_views
from lms.extensions import db
from lms.inputs import page_arg
from lms.spreadsheets import XLSX_MIMETYPE

bp = Blueprint("exams_admin", __name__, url_prefix="/admin/quizzes")


PICKER_PAGE_SIZE = 50


def _quiz_or_404(quiz_id: int) -> Quiz:
    quiz = db.session.get(Quiz, quiz_id)
    if quiz is None or quiz.kind != QuizKind.QUIZ:
        abort(404)
    # A subtree admin builds only quizzes addressed inside their subtree (results stay secretary-scoped).
    if (
        current_user.is_subtree_admin
        and request.endpoint not in SCOPED_RESULTS
        and not content_in_scope(current_user, quiz)
    ):
        abort(404)
    return quiz


SCOPED_RESULTS = {"exams_admin.results", "exams_admin.export", "exams_admin.statistics", "exams_admin.attempt"}


def _audit(quiz: Quiz, before: dict | None, **details) -> None:
    """Audit the current POST on ``quiz`` (the action is named after the route): changed columns and details."""
    after = {**audit.row_snapshot(quiz), **details} if before is not None else (details or None)
    record_content("quiz." + request.endpoint.rsplit(".", 1)[-1], "quiz", quiz, before, after)


@bp.route("/")
@secretary_required
def index():
    rows = db.session.execute(
        sa.select(Quiz, sa.func.count(QuizAttempt.id))
        .outerjoin(QuizAttempt, QuizAttempt.quiz_id == Quiz.id)
        .where(Quiz.kind == QuizKind.QUIZ)
        .group_by(Quiz.id)
        .order_by(Quiz.id.desc())
    ).all()
    manageable = {quiz.id for quiz, _ in rows if current_user.is_subtree_admin and content_in_scope(current_user, quiz)}
    return render_template(
        "exams/admin_index.html",
        rows=rows,
        open_reports=corrections.count_open_reports(),
        now=clock.utcnow(),
        manageable=manageable,
    )


def _settings_from(form: QuizForm) -> setup.QuizSettings:
    statuses, roles, branch_ids = form.audience_values()
    return setup.QuizSettings(
        title=form.title.data or "",
        description=form.description.data or "",
        is_practice=form.is_practice.data,
        time_limit_seconds=form.time_limit_minutes.data * 60 if form.time_limit_minutes.data else None,
        open_at=local_to_utc(form.open_at.data),
        close_at=local_to_utc(form.close_at.data),
        attempts_allowed=form.attempts_allowed.data or 0,
        pass_percent=float(form.pass_percent.data if form.pass_percent.data is not None else 60),
        kept_grade=form.kept_grade.data,
        shuffle_questions=form.shuffle_questions.data,
        shuffle_options=form.shuffle_options.data,
        partial_credit=form.partial_credit.data,
        review_policy=form.review_policy.data,
        wait_seconds=(form.wait_minutes.data or 0) * 60,
        overdue_handling=form.overdue_handling.data,
        grace_period_seconds=(form.grace_period_minutes.data or 0) * 60,
        audience_statuses=statuses,
        audience_roles=roles,
        audience_branch_ids=branch_ids,
    )


def _fill_form(form: QuizForm, quiz: Quiz) -> None:
    form.title.data = quiz.title
    form.description.data = quiz.description
    form.is_practice.data = quiz.is_practice
    form.time_limit_minutes.data = quiz.time_limit_seconds // 60 if quiz.time_limit_seconds else None
    form.open_at.data = utc_to_local(quiz.open_at)
    form.close_at.data = utc_to_local(quiz.close_at)
    form.attempts_allowed.data = quiz.attempts_allowed
    form.pass_percent.data = quiz.pass_percent
    form.kept_grade.data = str(quiz.kept_grade)
    form.shuffle_questions.data = quiz.shuffle_questions
    form.shuffle_options.data = quiz.shuffle_options
    form.partial_credit.data = quiz.partial_credit
    form.review_policy.data = str(quiz.review_policy)
    form.wait_minutes.data = quiz.wait_seconds // 60
    form.overdue_handling.data = str(quiz.overdue_handling)
    form.grace_period_minutes.data = quiz.grace_period_seconds // 60
    form.load_audience(quiz)


@bp.route("/new", methods=["GET", "POST"])
@manager_required
def new():
    form = QuizForm()
    fill_audience_choices(form, scoped_branch_tree(current_user))
    if form.validate_on_submit():
        try:
            check_audience(current_user, form.audience_values()[2])
            quiz = setup.create_quiz(_settings_from(form), created_by=current_user, now=clock.utcnow())
            _audit(quiz, None, **audit.row_snapshot(quiz))
        except DomainError as error:
            db.session.rollback()
            show_on_form(form, error)
        else:
            db.session.commit()
            flash(_l("Quiz created. Now add its questions."), "success")
            return redirect(url_for(".detail", quiz_id=quiz.id))
    return render_template("exams/admin_edit.html", form=form, quiz=None)


@bp.route("/<int:quiz_id>/edit", methods=["GET", "POST"])
@manager_required
def edit(quiz_id: int):
    quiz = _quiz_or_404(quiz_id)
    form = QuizForm()
    fill_audience_choices(form, scoped_branch_tree(current_user))
    if request.method == "GET":
        _fill_form(form, quiz)
    if form.validate_on_submit():
        before = audit.row_snapshot(quiz)
        try:
            check_audience(current_user, form.audience_values()[2])
            setup.update_quiz(quiz, _settings_from(form), now=clock.utcnow())
            db.session.flush()
            _audit(quiz, before)
        except DomainError as error:
            db.session.rollback()
            show_on_form(form, error)
        else:
            db.session.commit()
            flash(_l("Changes saved."), "success")
            return redirect(url_for(".detail", quiz_id=quiz.id))
    return render_template("exams/admin_edit.html", form=form, quiz=quiz, attempts=setup.attempt_count(quiz))


def _rule_form() -> DrawRuleForm:
    form = DrawRuleForm(prefix="rule")
    banks = db.session.scalars(sa.select(QuestionBank).order_by(QuestionBank.name)).all()
    form.bank_id.choices = [(0, str(_l("Any bank")))] + [(b.id, b.name) for b in banks]
    return form


@bp.route("/<int:quiz_id>")
@manager_required
def detail(quiz_id: int):
    quiz = _quiz_or_404(quiz_id)
    return render_template(
        "exams/admin_detail.html",
        quiz=quiz,
        rule_form=_rule_form(),
        rule_available={rule.id: setup.available_for_rule(rule) for rule in quiz.draw_rules},
        problems=setup.setup_problems(quiz),
        total_points=setup.total_points(quiz),
        question_count=setup.question_count(quiz),
        attempts=setup.attempt_count(quiz),
        type_labels=type_labels(),
        points_form=QuestionPointsForm(),
    )


def _back(quiz: Quiz, anchor: str = ""):
    return redirect(url_for(".detail", quiz_id=quiz.id) + anchor)


def _run(quiz: Quiz, action, success=None, anchor: str = ""):
    """Call one service for a POST button, audit it, commit, flash, and go back to the quiz page."""
    before = audit.row_snapshot(quiz)
    try:
        action()
        db.session.flush()
        _audit(quiz, before, **(request.view_args or {}))
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        db.session.commit()
        if success:
            flash(success, "success")
    return _back(quiz, anchor)


@bp.route("/<int:quiz_id>/publish", methods=["POST"])
@manager_required
def publish(quiz_id: int):
    quiz = _quiz_or_404(quiz_id)
    return _run(quiz, lambda: setup.publish_quiz(quiz, now=clock.utcnow()), _l("The quiz is published."))


@bp.route("/<int:quiz_id>/unpublish", methods=["POST"])
@manager_required
def unpublish(quiz_id: int):
    quiz = _quiz_or_404(quiz_id)
    return _run(quiz, lambda: setup.unpublish_quiz(quiz), _l("The quiz is hidden from members."))


@bp.route("/<int:quiz_id>/delete", methods=["POST"])
@manager_required
def delete(quiz_id: int):
    quiz = _quiz_or_404(quiz_id)
    try:
        _audit(quiz, None, **audit.row_snapshot(quiz))
        setup.delete_quiz(quiz)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return _back(quiz)
    db.session.commit()
    flash(_l("The quiz was deleted."), "success")
    return redirect(url_for(".index"))


def _picker_query(bank_id: int, question_type: str, tag: str, text: str):
    query = sa.select(Question).where(Question.is_disabled.is_(False)).order_by(Question.bank_id, Question.id)
    if bank_id:
        query = query.where(Question.bank_id == bank_id)
    if question_type in {str(t) for t in QuestionType}:
        query = query.where(Question.type == question_type)
    if tag:
        query = query.where(tag_clause(tag))
    if text:
        query = query.where(Question.stem.contains(text, autoescape=True))
    return query


@bp.route("/<int:quiz_id>/questions")
@manager_required
def pick_questions(quiz_id: int):
    """Search the banks and add questions to the quiz."""
    quiz = _quiz_or_404(quiz_id)
    bank_id = request.args.get("bank", 0, type=int)
    question_type = request.args.get("type", "")
    tag = request.args.get("tag", "").strip()
    text = request.args.get("q", "").strip()
    candidates = db.session.scalars(
        _picker_query(bank_id, question_type, tag, text).limit(PICKER_PAGE_SIZE + 1000)
    ).all()
    present = {qq.question_id for qq in quiz.fixed_questions}
    return render_template(
        "exams/admin_pick.html",
        quiz=quiz,
        questions=candidates[:PICKER_PAGE_SIZE],
        more=max(len(candidates) - PICKER_PAGE_SIZE, 0),
        present=present,
        banks=db.session.scalars(sa.select(QuestionBank).order_by(QuestionBank.name)).all(),
        bank_id=bank_id,
        question_type=question_type,
        tag=tag,
        q=text,
        type_labels=type_labels(),
    )


@bp.route("/<int:quiz_id>/questions/add", methods=["POST"])
@manager_required
def add_questions(quiz_id: int):
    quiz = _quiz_or_404(quiz_id)
    ids = [int(v) for v in request.form.getlist("question_id") if v.isdigit()]
    if not ids:
        flash(_l("Tick the questions to add."), "warning")
        return redirect(request.referrer or url_for(".pick_questions", quiz_id=quiz.id))
    added = setup.add_fixed_questions(quiz, ids)
    _audit(quiz, None, question_ids=ids, added=added)
    db.session.commit()
    flash(ngettext("%(num)d question added.", "%(num)d questions added.", added), "success")
    return _back(quiz, "#fixed")


@bp.route("/<int:quiz_id>/questions/<int:item_id>/remove", methods=["POST"])
@manager_required
def remove_question(quiz_id: int, item_id: int):
    quiz = _quiz_or_404(quiz_id)
    return _run(quiz, lambda: setup.remove_fixed_question(quiz, item_id), anchor="#fixed")


@bp.route("/<int:quiz_id>/questions/<int:item_id>/move", methods=["POST"])
@manager_required
def move_question(quiz_id: int, item_id: int):
    quiz = _quiz_or_404(quiz_id)
    step = -1 if request.form.get("direction") == "up" else 1
    return _run(quiz, lambda: setup.move_fixed_question(quiz, item_id, step), anchor="#fixed")


@bp.route("/<int:quiz_id>/questions/<int:item_id>/points", methods=["POST"])
@manager_required
def question_points(quiz_id: int, item_id: int):
    quiz = _quiz_or_404(quiz_id)
    form = QuestionPointsForm()
    if not form.validate():
        flash(_l("Points must be more than 0 and at most 1000."), "danger")
        return _back(quiz, "#fixed")
    points = float(form.points.data) if form.points.data is not None else None
    return _run(quiz, lambda: setup.set_fixed_points(quiz, item_id, points), anchor="#fixed")


@bp.route("/<int:quiz_id>/rules", methods=["POST"])
@manager_required
def add_rule(quiz_id: int):
    quiz = _quiz_or_404(quiz_id)
    form = _rule_form()
    if form.validate_on_submit():
        try:
            setup.add_draw_rule(
                quiz,
                bank_id=form.bank_id.data or None,
                question_type=QuestionType(form.question_type.data) if form.question_type.data else None,
                tag=form.tag.data or "",
                count=form.count.data,
                points=float(form.points.data),
            )
        except DomainError as error:
            db.session.rollback()
            show_on_form(form, error)
        else:
            _audit(quiz, None, **{k: v for k, v in form.data.items() if k != "csrf_token"})
            db.session.commit()
            flash(_l("Draw rule added."), "success")
            return _back(quiz, "#rules")
    return render_template(
        "exams/admin_detail.html",
        quiz=quiz,
        rule_form=form,
        rule_available={rule.id: setup.available_for_rule(rule) for rule in quiz.draw_rules},
        problems=setup.setup_problems(quiz),
        total_points=setup.total_points(quiz),
        question_count=setup.question_count(quiz),
        attempts=setup.attempt_count(quiz),
        type_labels=type_labels(),
        points_form=QuestionPointsForm(),
    ), 422


@bp.route("/<int:quiz_id>/rules/<int:rule_id>/remove", methods=["POST"])
@manager_required
def remove_rule(quiz_id: int, rule_id: int):
    quiz = _quiz_or_404(quiz_id)
    return _run(quiz, lambda: setup.remove_draw_rule(quiz, rule_id), anchor="#rules")


@bp.route("/<int:quiz_id>/overrides", methods=["GET", "POST"])
@manager_required
def overrides(quiz_id: int):
    quiz = _quiz_or_404(quiz_id)
    form = OverrideForm()
    if form.validate_on_submit():
        member = auth_services.find_user_by_login(form.login.data)
        if member is None:
            form.login.errors = [str(_l("No member has this username, mobile number or ID number."))]
        else:
            try:
                setup.set_override(
                    quiz,
                    member,
                    time_limit_seconds=form.time_limit_minutes.data * 60 if form.time_limit_minutes.data else None,
                    attempts_allowed=form.attempts_allowed.data,
                    open_at=local_to_utc(form.open_at.data),
                    close_at=local_to_utc(form.close_at.data),
                    note=form.note.data or "",
                    now=clock.utcnow(),
                )
            except DomainError as error:
                db.session.rollback()
                show_on_form(form, error)
            else:
                _audit(quiz, None, member_id=member.id, **{k: v for k, v in form.data.items() if k != "csrf_token"})
                db.session.commit()
                flash(_l("Override saved for %(name)s.", name=member.name), "success")
                return redirect(url_for(".overrides", quiz_id=quiz.id))
    rows = db.session.scalars(
        sa.select(QuizOverride).where(QuizOverride.quiz_id == quiz.id).order_by(QuizOverride.id.desc())
    ).all()
    return render_template("exams/admin_overrides.html", quiz=quiz, form=form, overrides=rows)


@bp.route("/<int:quiz_id>/overrides/<int:override_id>/delete", methods=["POST"])
@manager_required
def delete_override(quiz_id: int, override_id: int):
    quiz = _quiz_or_404(quiz_id)
    try:
        setup.delete_override(quiz, override_id, now=clock.utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        _audit(quiz, None, override_id=override_id)
        db.session.commit()
        flash(_l("Override removed."), "success")
    return redirect(url_for(".overrides", quiz_id=quiz.id))


@bp.route("/<int:quiz_id>/results")
@secretary_required
def results(quiz_id: int):
    quiz = _quiz_or_404(quiz_id)
    rows, summary = quiz_stats.results_table(quiz, current_user)
    return render_template("exams/admin_results.html", quiz=quiz, rows=rows, summary=summary)


@bp.route("/<int:quiz_id>/results.xlsx")
@secretary_required
def export(quiz_id: int):
    quiz = _quiz_or_404(quiz_id)
    payload = quiz_stats.export_results(quiz, current_user)
    record_export("quiz_results", quiz.id, label=quiz.title)
    day = clock.local_day(clock.utcnow()).isoformat()
    return download(
        payload,
        mimetype=XLSX_MIMETYPE,
        filename=f"{quiz.title[:80]}-{day}.xlsx",
        fallback=f"quiz-{quiz.id}-results-{day}.xlsx",
    )


@bp.route("/<int:quiz_id>/statistics")
@secretary_required
def statistics(quiz_id: int):
    quiz = _quiz_or_404(quiz_id)
    return render_template(
        "exams/admin_statistics.html",
        quiz=quiz,
        stats=quiz_stats.item_statistics(quiz, current_user),
        type_labels={str(k): v for k, v in type_labels().items()},
        minimum=quiz_stats.MIN_ATTEMPTS_FOR_DISCRIMINATION,
    )


@bp.route("/<int:quiz_id>/attempts/<int:attempt_id>")
@secretary_required
def attempt(quiz_id: int, attempt_id: int):
    """An attempt with its answers and the key (staff always see them), within the viewer's scope."""
    quiz = _quiz_or_404(quiz_id)
    attempt = db.session.scalar(
        sa.select(QuizAttempt).where(
            QuizAttempt.id == attempt_id,
            QuizAttempt.quiz_id == quiz.id,
            member_scope_clause(current_user, QuizAttempt.user_id),
        )
    )
    if attempt is None:
        abort(404)
    member = db.session.get(User, attempt.user_id)
    final = attempt.state != "in_progress"
    return render_template(
        "exams/admin_attempt.html",
        quiz=quiz,
        attempt=attempt,
        member=member,
        questions=question_views(attempt.questions, show_answers=final, show_score=final),
        member_attempts=db.session.scalars(
            sa.select(QuizAttempt)
            .where(QuizAttempt.quiz_id == quiz.id, QuizAttempt.user_id == attempt.user_id)
            .order_by(QuizAttempt.number)
        ).all(),
    )


@bp.route("/<int:quiz_id>/attempts/<int:attempt_id>/finalize", methods=["POST"])
@manager_required
def finalize(quiz_id: int, attempt_id: int):
    """Close a member's open attempt now with what was saved (e.g. the member left the exam room)."""
    quiz = _quiz_or_404(quiz_id)
    attempt = db.session.scalar(
        sa.select(QuizAttempt).where(QuizAttempt.id == attempt_id, QuizAttempt.quiz_id == quiz.id)
    )
    if attempt is None:
        abort(404)
    quiz_attempts.finalize_attempt(attempt, clock.utcnow())
    _audit(quiz, None, attempt_id=attempt.id, user_id=attempt.user_id, score_percent=attempt.score_percent)
    db.session.commit()
    flash(_l("The attempt was closed and graded."), "success")
    return redirect(url_for(".attempt", quiz_id=quiz.id, attempt_id=attempt.id))


@bp.route("/reports")
@admin_required
def reports():
    status = request.args.get("status", "open")
    query = sa.select(QuestionReport).order_by(QuestionReport.id.desc())
    if status in {str(s) for s in ReportStatus}:
        query = query.where(QuestionReport.status == status)
    page = page_arg()
    pagination = db.paginate(query, page=page, per_page=30, error_out=False)
    return render_template(
        "exams/admin_reports.html",
        pagination=pagination,
        status=status,
        form=ResolveReportForm(),
        statuses=list(ReportStatus),
        bank_question_url=_bank_question_url,
    )


def _bank_question_url(question_id: int | None) -> str | None:
    """A link to the question's edit page in the question banks (if those pages are installed)."""
    from flask import current_app

    if question_id is None:
        return None
    if "banks.question" not in current_app.view_functions:
        return None
    return url_for("banks.question", question_id=question_id)


@bp.route("/reports/<int:report_id>", methods=["POST"])
@admin_required
def resolve_report(report_id: int):
    form = ResolveReportForm()
    if not form.validate_on_submit():
        flash(_l("Choose how the report was handled."), "danger")
    else:
        try:
            corrections.resolve_report(
                report_id, current_user, ReportStatus(form.status.data), form.resolution.data or "", clock.utcnow()
            )
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            audit.record("question_report.resolve", "question_report", report_id, after={"status": form.status.data})
            db.session.commit()
            flash(_l("Report updated."), "success")
    return redirect(url_for(".reports", status=request.args.get("status", "open")))
