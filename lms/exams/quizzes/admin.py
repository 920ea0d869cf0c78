"""Admin pages of quizzes: settings, questions and draw rules, overrides, results, statistics, error reports.

Building quizzes is for admins; results, statistics and attempt reviews are open
to secretaries too, filtered to their branch subtree.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms import audit, clock
from lms.actions import run_action
from lms.auth import services as auth_services
from lms.auth.auditing import record_export
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
from lms.exams.questions.types import type_labels
from lms.exams.quizzes import attempts as quiz_attempts
from lms.exams.quizzes import corrections, setup
from lms.exams.quizzes import stats as quiz_stats
from lms.exams.quizzes.admin_setup import SetupPages, form_details, picker_context, with_bank_choices
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


PAGES = SetupPages(
    kind="quiz",
    snapshot=audit.row_snapshot,
    detail_url=lambda quiz: url_for(".detail", quiz_id=quiz.id),
    pick_url=lambda quiz: url_for(".pick_questions", quiz_id=quiz.id),
)
_audit = PAGES.audit


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

        def create():
            check_audience(current_user, form.audience_values()[2])
            quiz = setup.create_quiz(_settings_from(form), created_by=current_user, now=clock.utcnow())
            _audit(quiz, None, **audit.row_snapshot(quiz))
            return quiz

        done = run_action(create, form=form, to=PAGES.detail_url, success=_l("Quiz created. Now add its questions."))
        if done:
            return done
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

        def save():
            check_audience(current_user, form.audience_values()[2])
            setup.update_quiz(quiz, _settings_from(form), now=clock.utcnow())
            db.session.flush()
            _audit(quiz, before)

        done = run_action(save, form=form, to=PAGES.detail_url(quiz), success=_l("Changes saved."))
        if done:
            return done
    return render_template("exams/admin_edit.html", form=form, quiz=quiz, attempts=setup.attempt_count(quiz))


def _detail(quiz: Quiz, rule_form: DrawRuleForm, status: int = 200):
    return render_template(
        "exams/admin_detail.html",
        quiz=quiz,
        rule_form=rule_form,
        rule_available={rule.id: setup.available_for_rule(rule) for rule in quiz.draw_rules},
        problems=setup.setup_problems(quiz),
        total_points=setup.total_points(quiz),
        question_count=setup.question_count(quiz),
        attempts=setup.attempt_count(quiz),
        type_labels=type_labels(),
        points_form=QuestionPointsForm(),
    ), status


@bp.route("/<int:quiz_id>")
@manager_required
def detail(quiz_id: int):
    return _detail(_quiz_or_404(quiz_id), with_bank_choices(DrawRuleForm(prefix="rule")))


_back = PAGES.back
_run = PAGES.run


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
    return PAGES.delete(quiz, setup.delete_quiz, success=_l("The quiz was deleted."), index_url=url_for(".index"))


@bp.route("/<int:quiz_id>/questions")
@manager_required
def pick_questions(quiz_id: int):
    """Search the banks and add questions to the quiz."""
    quiz = _quiz_or_404(quiz_id)
    present = {qq.question_id for qq in quiz.fixed_questions}
    return render_template("exams/admin_pick.html", quiz=quiz, **picker_context(present))


@bp.route("/<int:quiz_id>/questions/add", methods=["POST"])
@manager_required
def add_questions(quiz_id: int):
    quiz = _quiz_or_404(quiz_id)
    done = PAGES.add_questions(quiz, lambda ids: setup.add_fixed_questions(quiz, ids))
    return done or redirect(request.referrer or PAGES.pick_url(quiz))


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
    form = with_bank_choices(DrawRuleForm(prefix="rule"))
    return PAGES.add_rule(quiz, form, setup.add_draw_rule) or _detail(quiz, form, 422)


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

            def save():
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
                _audit(quiz, None, member_id=member.id, **form_details(form))

            done = run_action(
                save,
                form=form,
                to=url_for(".overrides", quiz_id=quiz.id),
                success=_l("Override saved for %(name)s.", name=member.name),
            )
            if done:
                return done
    rows = db.session.scalars(
        sa.select(QuizOverride).where(QuizOverride.quiz_id == quiz.id).order_by(QuizOverride.id.desc())
    ).all()
    return render_template("exams/admin_overrides.html", quiz=quiz, form=form, overrides=rows)


@bp.route("/<int:quiz_id>/overrides/<int:override_id>/delete", methods=["POST"])
@manager_required
def delete_override(quiz_id: int, override_id: int):
    quiz = _quiz_or_404(quiz_id)

    def remove():
        setup.delete_override(quiz, override_id, now=clock.utcnow())
        _audit(quiz, None, override_id=override_id)

    return run_action(remove, to=url_for(".overrides", quiz_id=quiz.id), success=_l("Override removed."))


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
    back = url_for(".reports", status=request.args.get("status", "open"))
    if not form.validate_on_submit():
        flash(_l("Choose how the report was handled."), "danger")
        return redirect(back)

    def resolve():
        corrections.resolve_report(
            report_id, current_user, ReportStatus(form.status.data), form.resolution.data or "", clock.utcnow()
        )
        audit.record("question_report.resolve", "question_report", report_id, after={"status": form.status.data})

    return run_action(resolve, to=back, success=_l("Report updated."))
