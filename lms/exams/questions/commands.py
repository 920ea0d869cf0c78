"""`flask lms import-questions` and `flask lms export-questions`."""

from __future__ import annotations

import os

import click
from flask import current_app
from flask_babel import gettext as _

from lms.errors import ValidationFailed
from lms.exams.questions import banks
from lms.exams.questions.importers import FORMATS
from lms.extensions import db


def _report_lines(items, dry_run: bool):
    for item in items:
        if item.ok:
            state = _("would import") if dry_run else _("imported")
            why = "; ".join(str(note) for note in item.notes)
        else:
            state = _("skipped")
            why = "; ".join(str(problem) for problem in item.problems)
        line = _("line %(n)d", n=item.line)
        yield f"{line}\t{state}\t{item.label}" + (f"\t{why}" if why else "")


@click.command("import-questions")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--bank", "bank_name", required=True, help="Bank name; created when it does not exist.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Default: from the file name (.txt: GIFT or Aiken).")
@click.option("--dry-run", is_flag=True, help="Check and print the report; write nothing.")
def import_questions_command(file, bank_name, fmt, dry_run):
    """Import questions from FILE into a bank and print what was imported or skipped and why."""
    limit = current_app.config["MAX_IMPORT_MB"] * 1024 * 1024
    if os.path.getsize(file) > limit:
        raise click.ClickException(_("The file is larger than %(mb)d MB.", mb=current_app.config["MAX_IMPORT_MB"]))
    with open(file, "rb") as handle:
        payload = handle.read(limit + 1)
    bank = banks.find_bank(bank_name)
    try:
        result = banks.parse_upload(os.path.basename(file), payload, fmt, bank)
    except ValidationFailed as error:
        raise click.ClickException(str(error.message)) from error
    for line in _report_lines(result.items, dry_run):
        click.echo(line)
    valid, skipped = len(result.valid), len(result.skipped)
    if dry_run:
        click.echo(
            _("Dry run: %(n)d questions would be imported, %(m)d skipped; nothing was written.", n=valid, m=skipped)
        )
        return
    if valid:
        if bank is None:
            try:
                bank = banks.create_bank(bank_name, creator=None)
            except ValidationFailed as error:
                raise click.ClickException(str(error.message)) from error
        banks.store_questions(bank, result.valid)
        db.session.commit()
    click.echo(_("%(n)d questions imported into %(bank)s, %(m)d skipped.", n=valid, bank=bank_name, m=skipped))


@click.command("export-questions")
@click.option("--bank", "bank_name", required=True, help="Name of the bank.")
@click.option("--format", "fmt", type=click.Choice(banks.EXPORT_FORMATS), required=True)
@click.option("--include-disabled", is_flag=True, help="Also export disabled questions.")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, allow_dash=True))
def export_questions_command(bank_name, fmt, include_disabled, file):
    """Write a bank to FILE as Excel (the import template), GIFT or JSON ("-": standard output)."""
    bank = banks.find_bank(bank_name)
    if bank is None:
        raise click.ClickException(_("No bank is named “%(name)s”.", name=bank_name))
    if fmt == "xlsx":
        if file == "-":
            raise click.ClickException(_("Excel cannot be written to standard output; give a file name."))
        payload = banks.export_xlsx(bank, include_disabled=include_disabled)
    elif fmt == "gift":
        payload = banks.export_gift(bank, include_disabled=include_disabled).encode("utf-8")
    else:
        payload = banks.export_json(bank, include_disabled=include_disabled).encode("utf-8")
    with click.open_file(file, "wb") as handle:
        handle.write(payload)
    if file != "-":
        count = len(banks.export_questions(bank, include_disabled=include_disabled))
        click.echo(_("%(n)d questions of %(bank)s written to %(file)s.", n=count, bank=bank.name, file=file))


def register(group: click.Group) -> None:
    group.add_command(import_questions_command)
    group.add_command(export_questions_command)
