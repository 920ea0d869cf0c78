"""Admin and secretary pages: learning targets, branch reports, the at-risk list, probation checklists."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import quote

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from lms import audit, clock
from lms.actions import run_action
from lms.assessment import export, services, sources, targets
from lms.assessment import probation as checklist_service
from lms.assessment import reports as report_service
from lms.assessment.forms import TargetForm
from lms.assessment.labels import grade_choices
from lms.assessment.models import AssessmentRun, LearningTarget
from lms.assessment.periods import Period, period_from_key
from lms.auth.auditing import record_content, record_export, viewer_path
from lms.auth.forms import fill_audience_choices
from lms.auth.models import MEMBER_STATUS_LABELS, Branch, Role
from lms.auth.permissions import (
    check_audience,
    content_in_scope,
    get_branch_or_404,
    get_content_or_404,
    get_member_or_404,
    manager_required,
    scoped_branch_tree,
    secretary_required,
)
from lms.errors import DomainError
from lms.extensions import db
from lms.inputs import page_arg
from lms.spreadsheets import XLSX_MIMETYPE

bp = Blueprint("assessment_admin", __name__, url_prefix="/admin")

PAGE_SIZE = 50
RECOMPUTE_SECONDS = 60


def _today() -> date:
    return clock.local_day(clock.utcnow())


# --- Targets -------------------------------------------------------------------------------------


@bp.route("/targets")
@manager_required
def targets_list():
    items = [
        target
        for target in db.session.scalars(
            sa.select(LearningTarget).order_by(LearningTarget.is_active.desc(), LearningTarget.id)
        )
        if content_in_scope(current_user, target)
    ]
    today = _today()
    branch_names = dict(db.session.execute(sa.select(Branch.id, Branch.name)).all())
    rows = []
    for target in items:
        period = services.current_period(target, today)
        run = services.latest_run(target.id, period.key) if period else None
        rows.append((target, period, run, targets.audience_summary(target, branch_names)))
    return render_template("assessment/targets.html", rows=rows)


def _edit_target(target: LearningTarget | None):
    form = TargetForm()
    fill_audience_choices(form, scoped_branch_tree(current_user))
    before = audit.row_snapshot(target) if target is not None else None
    if request.method == "GET" and target is not None:
        form.load(targets.fields_of(target))
    form.prepare_rows(sources.course_catalogue(), sources.quiz_catalogue())
    if form.validate_on_submit():
        now = clock.utcnow()

        def save():
            check_audience(current_user, form.to_fields().branch_ids)
            saved = targets.save_target(
                target,
                form.to_fields(),
                author=current_user,
                course_titles=sources.existing_courses,
                quiz_titles=sources.existing_quizzes,
                now=now,
            )
            db.session.flush()
            record_content("target.update" if target else "target.create", "target", saved, before,
                           audit.row_snapshot(saved))  # fmt: skip
            if saved.is_active:
                services.recompute_target(saved, now)
            return saved

        done = run_action(
            save,
            form=form,
            to=url_for("assessment_admin.targets_list"),
            success=lambda saved: _("Target %(name)s saved and its results computed.", name=saved.name),
        )
        if done:
            return done
    elif request.method == "POST":
        flash(_("Please correct the marked fields."), "danger")
    return render_template("assessment/target_form.html", form=form, target=target)


@bp.route("/targets/new", methods=["GET", "POST"])
@manager_required
def target_new():
    return _edit_target(None)


@bp.route("/targets/<int:target_id>/edit", methods=["GET", "POST"])
@manager_required
def target_edit(target_id: int):
    return _edit_target(get_content_or_404(current_user, LearningTarget, target_id))


@bp.route("/targets/<int:target_id>/delete", methods=["POST"])
@manager_required
def target_delete(target_id: int):
    target = get_content_or_404(current_user, LearningTarget, target_id)

    def delete():
        record_content("target.delete", "target", target, audit.row_snapshot(target), None)
        targets.delete_target(target)

    return run_action(
        delete,
        to=url_for("assessment_admin.targets_list"),
        failed_to=url_for("assessment_admin.target_edit", target_id=target_id),
        success=_("Target deleted."),
    )


# --- Reports -------------------------------------------------------------------------------------


@bp.route("/reports")
@secretary_required
def reports():
    today = _today()
    rows = []
    for target in db.session.scalars(
        sa.select(LearningTarget).order_by(LearningTarget.is_active.desc(), LearningTarget.id)
    ):
        period = services.current_period(target, today)
        run = services.latest_run(target.id, period.key) if period else None
        if run is None and not target.is_active:
            continue
        root = report_service.viewer_root(current_user)
        summary = report_service.branch_report(current_user, run, root) if run else None
        rows.append((target, period, run, summary))
    return render_template("assessment/reports.html", rows=rows)


def _report_context(target_id: int):
    """The target, period, stored run and branch a report page is about (all checked against scope)."""
    target = db.get_or_404(LearningTarget, target_id)
    today = _today()
    period = period_from_key(target, request.args.get("period"), today)
    if period is None:
        abort(404)
    run = services.latest_run(target.id, period.key)
    branch_id = request.args.get("branch", type=int)
    root = get_branch_or_404(current_user, branch_id) if branch_id else report_service.viewer_root(current_user)
    if current_user.role != Role.ADMIN and root is None:
        abort(403)
    return target, period, run, root, today


def _report_args(period: Period, root: Branch | None, **extra) -> dict:
    values = {"period": period.key}
    if root is not None and (current_user.role == Role.ADMIN or root.id != current_user.branch_id):
        values["branch"] = root.id
    values.update({k: v for k, v in extra.items() if v not in (None, "")})
    return values


@bp.route("/reports/<int:target_id>")
@secretary_required
def report(target_id: int):
    target, period, run, root, today = _report_context(target_id)
    filters = {
        "grade": request.args.get("grade", ""),
        "flag": request.args.get("flag", ""),
        "status": request.args.get("status", ""),
        "q": request.args.get("q", "").strip()[:80],
        "sort": request.args.get("sort", "name"),
        "desc": request.args.get("desc", "") == "1",
        "bsort": request.args.get("bsort", "name"),
    }
    context = {
        "target": target,
        "period": period,
        "run": run,
        "root": root,
        "filters": filters,
        "periods": services.runs_of(target, today),
        "args": _report_args(period, root),
        "grades": grade_choices(),
        "statuses": [(str(k), v) for k, v in MEMBER_STATUS_LABELS.items()],
        "flags": report_service.FLAGS,
    }
    if run is not None:
        branch_report = report_service.branch_report(current_user, run, root, sort=filters["bsort"])
        query = report_service.member_results_query(
            current_user,
            run,
            root,
            grade=filters["grade"],
            flag=filters["flag"],
            search=filters["q"],
            status=filters["status"],
            sort=filters["sort"],
            descending=filters["desc"],
        )
        page = page_arg()
        context["branch_report"] = branch_report
        context["pagination"] = db.paginate(query, page=page, per_page=PAGE_SIZE, error_out=False)
        context["charts"] = _charts(branch_report, target, run, root)
    return render_template("assessment/report.html", **context)


def _charts(branch_report: report_service.BranchReport, target: LearningTarget, run: AssessmentRun, root) -> dict:
    """Chart data for the report page (grades, branch comparison, hours by month)."""
    from lms.assessment.labels import GRADE_LABELS
    from lms.assessment.scoring import GRADES_BEST_FIRST

    grades = {
        "labels": [str(GRADE_LABELS[g]) for g in GRADES_BEST_FIRST],
        "data": [branch_report.total.by_grade.get(str(g), 0) for g in GRADES_BEST_FIRST],
    }
    # The branches one level below the viewer's scope, and the members directly in it.
    groups = [(line.name or _("No branch"), line.tally) for line in branch_report.lines if line.tally.members]
    if branch_report.direct is not None:
        groups.append((_("Directly in %(branch)s", branch=branch_report.parent.name), branch_report.direct))
    comparison = {
        "labels": [name for name, _tally in groups],
        "scores": [round(tally.mean_score, 1) if tally.mean_score is not None else 0 for _name, tally in groups],
        "hours": [round(tally.mean_hours or 0, 1) for _name, tally in groups],
    }
    months = {"labels": [], "data": []}
    if run.period_start and run.period_end:
        monthly = report_service.monthly_hours(current_user, run, root, sources.seconds_per_study_hour())
        last = min(run.period_end, max(_today(), run.period_start))
        for year, month in services.month_list(run.period_start, last):
            key = f"{year}-{month:02d}"
            months["labels"].append(key)
            months["data"].append(monthly.get(key, 0.0))
    return {
        "grades": grades,
        "comparison": comparison,
        "months": months,
        "labels": {
            "members": _("Members"),
            "mean_score": _("Mean score"),
            "mean_hours": _("Mean study hours"),
            "hours": _("Study hours"),
        },
    }


@bp.route("/reports/<int:target_id>/recompute", methods=["POST"])
@secretary_required
def report_recompute(target_id: int):
    target = db.get_or_404(LearningTarget, target_id)
    period_key = request.form.get("period") or None
    now = clock.utcnow()
    period = period_from_key(target, period_key, clock.local_day(now))
    latest = services.latest_run(target.id, period.key) if period else None
    if latest is not None and not latest.is_final and now - latest.computed_at < timedelta(seconds=RECOMPUTE_SECONDS):
        # Several secretaries pressing the button at once recompute the whole target once.
        flash(_("The results were computed less than a minute ago."), "info")
        return redirect(url_for("assessment_admin.report", target_id=target.id, period=period.key))
    try:
        run = services.recompute_target(target, now, period_key=period_key)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "warning")
        return redirect(url_for("assessment_admin.report", target_id=target.id, period=period_key))
    audit.record("target.recompute", "assessment_run", run.id, after={"target_id": target.id, "period": run.period_key,
                 "members": run.member_count}, label=target.name, branch_path=viewer_path())
    db.session.commit()
    flash(_("Results recomputed for %(count)d members.", count=run.member_count), "success")
    args = {"period": run.period_key}
    if request.form.get("branch", type=int):
        args["branch"] = request.form.get("branch", type=int)
    return redirect(url_for("assessment_admin.report", target_id=target.id, **args))


@bp.route("/reports/<int:target_id>/at-risk")
@secretary_required
def at_risk(target_id: int):
    target, period, run, root, today = _report_context(target_id)
    pagination = None
    if run is not None:
        page = page_arg()
        pagination = db.paginate(
            report_service.at_risk_query(current_user, run, root), page=page, per_page=PAGE_SIZE, error_out=False
        )
    return render_template(
        "assessment/at_risk.html",
        target=target,
        period=period,
        run=run,
        root=root,
        pagination=pagination,
        today=today,
        args=_report_args(period, root),
        pending=report_service.items_due_text,
    )


def _xlsx_response(sheets, filename: str) -> Response:
    """Stream a workbook while it is written (the request context stays open for the row queries)."""
    return Response(
        stream_with_context(export.stream_xlsx(sheets)),
        mimetype=XLSX_MIMETYPE,
        # RFC 5987 name for browsers, an ASCII fallback for the rest.
        headers={"Content-Disposition": f"attachment; filename=\"report.xlsx\"; filename*=UTF-8''{quote(filename)}"},
    )


@bp.route("/reports/<int:target_id>/export.xlsx")
@secretary_required
def report_export(target_id: int):
    target, period, run, root, _today_ = _report_context(target_id)
    if run is None:
        flash(_("There are no results to export yet."), "warning")
        return redirect(url_for("assessment_admin.report", target_id=target.id, **_report_args(period, root)))
    branch_report = report_service.branch_report(current_user, run, root)
    query = report_service.member_results_query(
        current_user,
        run,
        root,
        grade=request.args.get("grade", ""),
        flag=request.args.get("flag", ""),
        search=request.args.get("q", "").strip()[:80],
        status=request.args.get("status", ""),
    )
    scope_name = root.name if root else _("All branches")
    record_export("report", target.id, root=root, label=target.name)
    sheets = [export.member_sheet(query), export.branch_sheet(branch_report)]
    return _xlsx_response(sheets, f"{target.name}-{period.label}-{scope_name}.xlsx")


@bp.route("/reports/<int:target_id>/print")
@secretary_required
def report_print(target_id: int):
    target, period, run, root, today = _report_context(target_id)
    if run is None:
        abort(404)
    branch_report = report_service.branch_report(current_user, run, root)
    record_export("report_print", target.id, root=root, label=target.name)
    rows = report_service.iter_results(report_service.member_results_query(current_user, run, root, sort="branch"))
    return render_template(
        "assessment/report_print.html",
        target=target,
        period=period,
        run=run,
        root=root,
        branch_report=branch_report,
        rows=rows,
        today=today,
    )


@bp.route("/reports/<int:target_id>/members/<int:user_id>")
@secretary_required
def member_result(target_id: int, user_id: int):
    member = get_member_or_404(current_user, user_id)
    target, period, run, _root, today = _report_context(target_id)
    result = report_service.result_for_member(current_user, run, member.id) if run else None
    return render_template(
        "assessment/member_result.html",
        member=member,
        target=target,
        period=period,
        run=run,
        result=result,
        today=today,
        archive_url=url_for("courses.archive", user_id=member.id),
        pending=report_service.items_due_text(result, today) if result else [],
    )


# --- Probation checklists ------------------------------------------------------------------------


@bp.route("/probation")
@secretary_required
def probation():
    checklists = checklist_service.checklists(current_user, clock.utcnow())
    return render_template("assessment/probation.html", checklists=checklists, today=_today())


@bp.route("/probation/export.xlsx")
@secretary_required
def probation_export():
    checklists = checklist_service.checklists(current_user, clock.utcnow())
    record_export("probation")
    sheets = [checklist_service.checklist_sheet(checklists, _today())]
    return _xlsx_response(sheets, _("Probationary members checklist") + ".xlsx")


@bp.route("/probation/<int:user_id>")
@secretary_required
def probation_member(user_id: int):
    member = get_member_or_404(current_user, user_id)
    checklists = checklist_service.checklists(current_user, clock.utcnow(), member=member)
    return render_template("assessment/probation_member.html", member=member, checklists=checklists, today=_today())


@bp.route("/probation/<int:user_id>/export.xlsx")
@secretary_required
def probation_member_export(user_id: int):
    member = get_member_or_404(current_user, user_id)
    checklists = checklist_service.checklists(current_user, clock.utcnow(), member=member)
    record_export("probation_member", member.id, member=member)
    sheets = [checklist_service.checklist_sheet(checklists, _today())]
    return _xlsx_response(sheets, _("Probation checklist of %(name)s", name=member.name) + ".xlsx")
