"""`flask lms import-questions` and `flask lms export-questions`."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from lms.exams.questions import banks
from lms.exams.questions.models import Question, QuestionBank
from lms.extensions import db

GIFT = "::一::中共一大于哪年召开？{=1921 ~1927}\n\n::论述::谈谈体会。{}\n\n::判断::预备期一年{T}\n"
AIKEN = "党的根本组织原则是？\nA. 民主集中制\nB. 集体领导\nANSWER: A\n\n坏题\nA. x\nB. y\nANSWER: F\n"


@pytest.fixture(autouse=True)
def english(app, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")


def counts() -> tuple[int, int]:
    return (
        db.session.scalar(sa.select(sa.func.count(QuestionBank.id))),
        db.session.scalar(sa.select(sa.func.count(Question.id))),
    )


def run(runner, *args):
    return runner.invoke(args=["lms", *args], catch_exceptions=False)


def test_dry_run_prints_the_report_and_writes_nothing(runner, tmp_path):
    source = tmp_path / "q.gift"
    source.write_text(GIFT, encoding="utf-8")

    result = run(runner, "import-questions", str(source), "--bank", "党史", "--dry-run")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("line 1\twould import\t一")
    assert lines[1].startswith("line 3\tskipped\t论述\t") and "essay" in lines[1]
    assert "nothing was written" in lines[-1]
    assert counts() == (0, 0)


def test_the_real_run_creates_the_bank_and_imports_then_skips_repeats(runner, tmp_path):
    source = tmp_path / "q.gift"
    source.write_text(GIFT, encoding="utf-8")

    first = run(runner, "import-questions", str(source), "--bank", "党史")
    assert first.exit_code == 0, first.output
    assert "2 questions imported into 党史, 1 skipped." in first.output
    assert counts() == (1, 2)

    second = run(runner, "import-questions", str(source), "--bank", "党史")
    assert "Already in the bank" in second.output and counts() == (1, 2)


def test_format_option_reads_a_txt_file_as_aiken_with_gbk_encoding(runner, tmp_path):
    source = tmp_path / "questions.txt"
    source.write_bytes(AIKEN.encode("gbk"))

    result = run(runner, "import-questions", str(source), "--bank", "党章", "--format", "aiken")

    assert "line 6\tskipped" in result.output and "option F" in result.output
    assert counts() == (1, 1)


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("bank.xlsx", b"not a workbook", "not a valid Excel workbook"),
        ("bank.gift", b"", "no questions"),
        ("bank.csv", "题干\n只有题干\n".encode(), "missing"),
    ],
)
def test_a_broken_file_exits_with_the_reason_and_writes_nothing(runner, tmp_path, name, payload, message):
    source = tmp_path / name
    source.write_bytes(payload)

    result = runner.invoke(args=["lms", "import-questions", str(source), "--bank", "党史"])

    assert result.exit_code == 1 and message in result.output
    assert counts() == (0, 0)


def test_a_50_mb_file_is_refused_before_it_is_read(runner, tmp_path):
    source = tmp_path / "huge.xlsx"
    with source.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: no 50 MB written to disk

    result = runner.invoke(args=["lms", "import-questions", str(source), "--bank", "党史"])

    assert result.exit_code == 1 and "larger than 10 MB" in result.output
    assert counts() == (0, 0)


def test_export_writes_each_format_and_gift_imports_back(runner, tmp_path):
    source = tmp_path / "q.gift"
    source.write_text(GIFT, encoding="utf-8")
    run(runner, "import-questions", str(source), "--bank", "党史")

    for fmt in ("xlsx", "gift", "json"):
        target = tmp_path / f"out.{fmt}"
        result = run(runner, "export-questions", "--bank", "党史", "--format", fmt, str(target))
        assert result.exit_code == 0 and "2 questions of 党史 written" in result.output
        assert target.stat().st_size > 0
    assert [o["type"] for o in json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))] == [
        "single",
        "true_false",
    ]

    run(runner, "import-questions", str(tmp_path / "out.gift"), "--bank", "副本")
    run(runner, "import-questions", str(tmp_path / "out.xlsx"), "--bank", "Excel副本")
    original = banks.export_questions(banks.find_bank("党史"))
    assert banks.export_questions(banks.find_bank("副本")) == original
    assert banks.export_questions(banks.find_bank("Excel副本")) == original


def test_json_goes_to_standard_output_with_a_dash(runner, tmp_path):
    source = tmp_path / "q.gift"
    source.write_text(GIFT, encoding="utf-8")
    run(runner, "import-questions", str(source), "--bank", "党史")

    result = run(runner, "export-questions", "--bank", "党史", "--format", "json", "-")
    assert json.loads(result.output)[0]["answers"] == ["A"]


def test_exporting_an_unknown_bank_fails_clearly(runner, tmp_path):
    result = runner.invoke(
        args=["lms", "export-questions", "--bank", "无此题库", "--format", "gift", str(tmp_path / "x")]
    )
    assert result.exit_code == 1 and "无此题库" in result.output
