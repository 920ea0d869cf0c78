"""Admin pages of the question banks: banks, questions, import with confirmation, export."""

from __future__ import annotations

import io
import unicodedata

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from lms import clock
from lms.actions import run_action
from lms.auth.permissions import admin_required
from lms.downloads import download
from lms.errors import DomainError, ValidationFailed, show_on_form
from lms.exams.questions import banks
from lms.exams.questions.forms import (
    INDEFINITE,
    WEIGHTED,
    BankForm,
    ImportConfirmForm,
    QuestionForm,
    QuestionImportForm,
    QuestionStateForm,
)
from lms.exams.questions.importers import xlsx_csv
from lms.exams.questions.importers.common import Problem, points_text
from lms.exams.questions.models import Question, QuestionBank, QuestionType
from lms.exams.questions.types import LETTERS, type_labels
from lms.extensions import db
from lms.inputs import clean_filename, page_arg
from lms.spreadsheets import XLSX_MIMETYPE, read_upload

bp = Blueprint("banks", __name__, url_prefix="/admin/banks")


PAGE_SIZE = 30
MULTIPART_OVERHEAD = 256 * 1024


def _max_import_bytes() -> int:
    return current_app.config["MAX_IMPORT_MB"] * 1024 * 1024


@bp.url_value_preprocessor
def _bound_upload_size(endpoint, values) -> None:
    # Runs before every before_request hook, including the CSRF check that reads
    # the form: an upload over the cap is refused from its Content-Length, before
    # any of it is read or spooled to disk.
    if endpoint == "banks.import_questions":
        request.max_content_length = _max_import_bytes() + MULTIPART_OVERHEAD


@bp.errorhandler(RequestEntityTooLarge)
def _upload_too_large(error):
    message = _l("The file is larger than %(mb)d MB.", mb=current_app.config["MAX_IMPORT_MB"])
    bank = db.session.get(QuestionBank, (request.view_args or {}).get("bank_id", 0))
    if bank is None:
        abort(404)
    return _render_import(bank, QuestionImportForm(formdata=None), None, message), 413


def _bank_or_404(bank_id: int) -> QuestionBank:
    return db.get_or_404(QuestionBank, bank_id)


@bp.route("/", methods=["GET", "POST"])
@admin_required
def index():
    form = BankForm()
    if form.validate_on_submit():
        done = run_action(
            lambda: banks.create_bank(form.name.data, form.description.data, creator=current_user),
            form=form,
            to=lambda bank: url_for("banks.bank", bank_id=bank.id),
            success=lambda bank: _l("Bank %(name)s created.", name=bank.name),
        )
        if done:
            return done
    return render_template("exams/banks/index.html", summaries=banks.bank_summaries(), form=form)


@bp.route("/<int:bank_id>")
@admin_required
def bank(bank_id: int):
    """The bank's questions, searchable and filterable by type, knowledge point and difficulty."""
    bank = _bank_or_404(bank_id)
    filters = banks.QuestionFilter(
        text=request.args.get("q", "").strip(),
        type=request.args.get("type", ""),
        tag=request.args.get("tag", "").strip(),
        difficulty=request.args.get("difficulty", type=int),
        state=request.args.get("state", "all"),
    )
    page = page_arg()
    pagination = db.paginate(banks.question_query(bank, filters), page=page, per_page=PAGE_SIZE, error_out=False)
    return render_template(
        "exams/banks/bank.html",
        bank=bank,
        pagination=pagination,
        filters=filters,
        tags=banks.bank_tags(bank),
        type_labels=type_labels(),
        difficulty_labels=banks.DIFFICULTY_LABELS,
        state_form=QuestionStateForm(),
        answer_text=lambda parsed: xlsx_csv.question_values(parsed)["answer"],
        to_parsed=banks.to_parsed,
    )


@bp.route("/<int:bank_id>/settings", methods=["GET", "POST"])
@admin_required
def settings(bank_id: int):
    bank = _bank_or_404(bank_id)
    form = BankForm(obj=bank)
    if form.validate_on_submit():
        done = run_action(
            lambda: banks.update_bank(bank, form.name.data, form.description.data),
            form=form,
            to=url_for("banks.bank", bank_id=bank.id),
            success=_l("Changes saved."),
        )
        if done:
            return done
    return render_template("exams/banks/settings.html", bank=bank, form=form)


_FORM_FIELDS = {"options": "option_a", "type": "type", "stem": "stem", "answer": "answer"}
_WEIGHTED_FIELDS = {**_FORM_FIELDS, "answer": "scoring"}  # weighted: a key's problem is the weights' problem


def _weights_answer(form: QuestionForm) -> str:
    """The weights typed next to the options as the template's answer ("A:50%, B:50%, C:-100%").

    A weight that is not a number, or one next to an empty option, is put on its field.
    """
    parts = []
    for letter, option, field in zip(LETTERS, form.option_fields(), form.weight_fields(), strict=True):
        text = unicodedata.normalize("NFKC", field.data or "").strip().removesuffix("%").strip().replace("−", "-")
        if not text:
            continue
        try:
            weight = float(text)
        except ValueError:
            field.errors = [*field.errors, str(_l("“%(value)s” is not a number.", value=field.data.strip()))]
            continue
        if weight and not (option.data or "").strip():
            field.errors = [*field.errors, str(_l("Option %(letter)s has a weight but no text.", letter=letter))]
            continue
        if weight:
            parts.append(f"{letter}:{points_text(weight)}%")
    return ", ".join(parts)


def _parsed_from(form: QuestionForm):
    """Read the form as a template row, so the form and the importers agree on every rule."""
    fields = {"format": "text_format"}
    values = {
        name: field.data or ""
        for name in xlsx_csv.COLUMNS
        if (field := getattr(form, fields.get(name, name), None)) is not None  # not "options": one per field
    }
    notes: list = []
    if form.weighted():
        values["answer"] = _weights_answer(form)
        if any(field.errors for field in form.weight_fields()):
            return None, [], notes
        if not values["answer"]:
            return None, [Problem(_l("Give the right options their weights."), "answer")], notes
    parsed, problems = xlsx_csv.question_from_values(values, notes=notes)
    return parsed, problems, notes


def _fill_form(form: QuestionForm, question) -> None:
    parsed = banks.to_parsed(question)
    form.type.data = INDEFINITE if parsed.answer.get("indefinite") else parsed.type
    form.text_format.data = "html" if parsed.html else ""
    form.title.data = parsed.title
    form.stem.data = parsed.stem
    for field, option in zip(form.option_fields(), parsed.options, strict=False):
        field.data = option
    weights = parsed.answer.get("weights") if parsed.type == "multiple" else None
    if weights:
        form.scoring.data = WEIGHTED
        for field, weight in zip(form.weight_fields(), weights, strict=False):
            field.data = points_text(weight) if weight else ""
        form.answer.data = ""
    else:
        form.answer.data = xlsx_csv.question_values(parsed)["answer"]
    form.explanation.data = parsed.explanation
    form.points.data = points_text(parsed.points)
    form.difficulty.data = str(parsed.difficulty)
    form.tags.data = "，".join(parsed.tags)


def _save_question(form: QuestionForm, save) -> bool:
    parsed, problems, notes = _parsed_from(form)
    aliases = _WEIGHTED_FIELDS if form.weighted() else _FORM_FIELDS
    for problem in problems:
        show_on_form(form, ValidationFailed(problem.message, problem.field), aliases)
    if parsed is None:
        return False
    try:
        save(parsed)
    except DomainError as error:
        db.session.rollback()
        show_on_form(form, error, aliases)
        return False
    db.session.commit()
    for note in dict.fromkeys(str(note) for note in notes):  # what was changed on the way in, e.g. a script removed
        flash(note, "warning")
    return True


@bp.route("/<int:bank_id>/questions/new", methods=["GET", "POST"])
@admin_required
def question_new(bank_id: int):
    bank = _bank_or_404(bank_id)
    form = QuestionForm()
    if request.method == "GET" and request.args.get("type") in (*QuestionType.__members__.values(), INDEFINITE):
        form.type.data = request.args["type"]
    if form.validate_on_submit() and _save_question(form, lambda parsed: banks.add_question(bank, parsed)):
        flash(_l("Question added."), "success")
        if request.form.get("again"):
            return redirect(url_for("banks.question_new", bank_id=bank.id, type=form.type.data))
        return redirect(url_for("banks.bank", bank_id=bank.id))
    return render_template("exams/banks/question_form.html", bank=bank, form=form, question=None)


@bp.route("/questions/<int:question_id>")
@admin_required
def question(question_id: int):
    """A link to a question by its id alone (from the quiz pages): its edit page in its bank."""
    question = db.get_or_404(Question, question_id)
    return redirect(url_for("banks.question_edit", bank_id=question.bank_id, question_id=question.id))


@bp.route("/<int:bank_id>/questions/<int:question_id>", methods=["GET", "POST"])
@admin_required
def question_edit(bank_id: int, question_id: int):
    bank = _bank_or_404(bank_id)
    question = banks.get_question_or_404(bank, question_id)
    form = QuestionForm()
    if request.method == "GET":
        _fill_form(form, question)
    changed = []
    if form.validate_on_submit() and _save_question(
        form, lambda parsed: changed.append(banks.update_question(question, parsed))
    ):
        if changed and changed[0]:
            flash(_l("Question saved as version %(n)d.", n=question.version), "success")
        else:
            flash(_l("Nothing was changed."), "info")
        return redirect(url_for("banks.bank", bank_id=bank.id))
    return render_template("exams/banks/question_form.html", bank=bank, form=form, question=question)


@bp.route("/<int:bank_id>/questions/<int:question_id>/state", methods=["POST"])
@admin_required
def question_state(bank_id: int, question_id: int):
    bank = _bank_or_404(bank_id)
    question = banks.get_question_or_404(bank, question_id)
    form = QuestionStateForm()
    if not form.validate_on_submit():
        abort(400)
    disabled = form.disabled.data == "1"
    banks.set_question_disabled(question, disabled)
    db.session.commit()
    flash(_l("Question disabled.") if disabled else _l("Question enabled."), "success")
    return redirect(
        request.referrer if _same_bank_page(request.referrer, bank) else url_for("banks.bank", bank_id=bank.id)
    )


def _same_bank_page(referrer: str | None, bank: QuestionBank) -> bool:
    """Only return to the list page (with its filters) of this bank on this site."""
    if not referrer:
        return False
    base = url_for("banks.bank", bank_id=bank.id, _external=True)
    return referrer == base or referrer.startswith(base + "?")


def _render_import(bank: QuestionBank, form: QuestionImportForm, report, error=None):
    if error:
        form.form_errors.append(str(error))
    return render_template(
        "exams/banks/import.html",
        bank=bank,
        form=form,
        report=report,
        confirm_form=ImportConfirmForm(formdata=None, token=report.token if report else ""),
        columns=xlsx_csv.TEMPLATE_HELP,
        column_names=xlsx_csv.COLUMN_LABELS if report and report.format in ("xlsx", "csv") else {},
        max_mb=current_app.config["MAX_IMPORT_MB"],
        type_labels=type_labels(),
    )


@bp.route("/<int:bank_id>/import", methods=["GET", "POST"])
@admin_required
def import_questions(bank_id: int):
    """Upload a file: every question is checked and reported; nothing is saved until confirmed."""
    bank = _bank_or_404(bank_id)
    form = QuestionImportForm()
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        try:
            payload = read_upload(upload.stream, _max_import_bytes())
            report = banks.prepare_import(
                bank,
                clean_filename(upload.filename),
                payload,
                form.format.data or None,
                admin=current_user,
                now=clock.utcnow(),
            )
        except ValidationFailed as error:
            show_on_form(form, error)
    return _render_import(bank, form, report)


@bp.route("/import/confirm", methods=["POST"])
@admin_required
def import_confirm():
    form = ImportConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        bank, report = banks.confirm_import(form.token.data, admin=current_user, now=clock.utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for("banks.index"))
    db.session.commit()
    if report.skipped:
        flash(
            _l(
                "%(n)d questions imported; %(m)d were skipped because the bank holds them by now.",
                n=len(report.valid),
                m=len(report.skipped),
            ),
            "warning",
        )
    else:
        flash(ngettext("%(num)d question imported.", "%(num)d questions imported.", len(report.valid)), "success")
    return redirect(url_for("banks.bank", bank_id=bank.id))


@bp.route("/<int:bank_id>/export.<fmt>")
@admin_required
def export(bank_id: int, fmt: str):
    bank = _bank_or_404(bank_id)
    if fmt not in banks.EXPORT_FORMATS:
        abort(404)
    include_disabled = request.args.get("disabled") == "1"
    if fmt == "xlsx":
        payload, mimetype = banks.export_xlsx(bank, include_disabled=include_disabled), XLSX_MIMETYPE
    elif fmt == "gift":
        payload = banks.export_gift(bank, include_disabled=include_disabled).encode("utf-8")
        mimetype = "text/plain"
    elif fmt == "xml":
        payload = banks.export_moodle_xml(bank, include_disabled=include_disabled).encode("utf-8")
        mimetype = "application/xml"
    else:
        payload = banks.export_json(bank, include_disabled=include_disabled).encode("utf-8")
        mimetype = "application/json"
    extension = {"xlsx": "xlsx", "gift": "gift.txt", "xml": "moodle.xml", "json": "json"}[fmt]
    return download(
        payload, mimetype=mimetype, filename=f"{bank.name}.{extension}", fallback=f"bank-{bank.id}.{extension}"
    )


@bp.route("/template.xlsx")
@admin_required
def template():
    return send_file(
        io.BytesIO(banks.template_xlsx()),
        mimetype=XLSX_MIMETYPE,
        as_attachment=True,
        download_name="question-import-template.xlsx",
    )
