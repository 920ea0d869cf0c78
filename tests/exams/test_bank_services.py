"""Bank services: banks, questions with versions, search and filters, the staged import."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from lms.auth.models import Role
from lms.errors import NotFound, ValidationFailed
from lms.exams.questions import banks
from lms.exams.questions.importers import ParsedQuestion
from lms.exams.questions.models import Question, QuestionTag
from lms.extensions import db

# postgres: INSERT ... RETURNING in order, LIKE and lower() in search
pytestmark = [pytest.mark.usefixtures("english"), pytest.mark.postgres]


@pytest.fixture
def admin(make_user):
    return make_user(role=Role.ADMIN)


def single(stem="中国共产党的根本组织原则是（ ）。", **fields) -> ParsedQuestion:
    values = {"options": ["民主集中制", "集体领导", "党管干部"], "answer": {"choice": 0}, **fields}
    return ParsedQuestion("single", stem, **values)


def count_questions(bank=None) -> int:
    query = sa.select(sa.func.count(Question.id))
    if bank is not None:
        query = query.where(Question.bank_id == bank.id)
    return db.session.scalar(query)


GIFT = """::一::中共一大于哪年召开？{=1921 ~1927}

::二::党的宗旨是{=全心全意为人民服务}。

::三::这是论述题{}

::四::预备期一年{T}
"""


def test_bank_names_are_trimmed_and_unique_ignoring_case(app, admin):
    bank = banks.create_bank("  党史   题库 ", "说明", creator=admin)
    assert bank.name == "党史 题库" and bank.created_by_id == admin.id

    with pytest.raises(ValidationFailed) as error:
        banks.create_bank("党史 题库", creator=admin)
    assert error.value.field == "name"
    other = banks.create_bank("Party A", creator=admin)
    banks.update_bank(other, "party a ", "")  # its own name in another case is fine
    with pytest.raises(ValidationFailed):
        banks.update_bank(other, "党史 题库", "")
    banks.update_bank(bank, "党史题库（新）", "新说明")
    assert (bank.name, bank.description) == ("党史题库（新）", "新说明")


def test_a_renamed_bank_keeps_its_name_when_saved_unchanged(app, admin):
    bank = banks.create_bank("Party A", creator=admin)
    banks.update_bank(bank, "PARTY A", "x")
    assert bank.name == "PARTY A"


def test_editing_a_question_bumps_its_version_and_an_unchanged_save_does_not(app, admin):
    bank = banks.create_bank("题库", creator=admin)
    question = banks.add_question(bank, single(tags=["党章"]))
    db.session.commit()
    assert question.version == 1

    assert banks.update_question(question, single(tags=["党章"])) is False
    assert question.version == 1
    assert banks.update_question(question, single(tags=["党章", "组织原则"], explanation="党章总纲")) is True
    db.session.commit()
    assert question.version == 2 and question.explanation == "党章总纲"
    assert sorted(db.session.scalars(sa.select(QuestionTag.tag))) == ["党章", "组织原则"]

    banks.update_question(question, ParsedQuestion("true_false", "改成判断题", answer={"value": True}))
    assert question.version == 3 and question.options == [] and question.tags == []
    assert db.session.scalars(sa.select(QuestionTag.tag)).all() == []


def test_an_invalid_edit_is_refused_and_changes_nothing(app, admin):
    bank = banks.create_bank("题库", creator=admin)
    question = banks.add_question(bank, single())
    db.session.commit()

    with pytest.raises(ValidationFailed) as error:
        banks.update_question(question, single(answer={"choice": 7}))
    assert error.value.field == "answer"
    assert question.version == 1 and question.answer == {"choice": 0}


def test_disabling_keeps_the_version_and_can_be_undone(app, admin):
    bank = banks.create_bank("题库", creator=admin)
    question = banks.add_question(bank, single())
    banks.set_question_disabled(question, True)
    assert question.is_disabled and question.version == 1
    banks.set_question_disabled(question, False)
    assert not question.is_disabled


def test_search_and_filters_by_text_type_tag_difficulty_and_state(app, admin):
    bank = banks.create_bank("题库", creator=admin)
    other = banks.create_bank("别的题库", creator=admin)
    a = banks.add_question(bank, single("民主集中制是根本组织原则（ ）", tags=["党章"], difficulty=2))
    b = banks.add_question(bank, ParsedQuestion("true_false", "100% 的党员都要交党费_吗", answer={"value": True},
                                                tags=["党费", "党章"], difficulty=4))  # fmt: skip
    c = banks.add_question(bank, ParsedQuestion("fill", "宗旨是____", answer={"blanks": [["为人民服务"]]}))
    d = banks.add_question(other, single("民主集中制在别的题库（ ）", tags=["党章"]))
    banks.set_question_disabled(c, True)
    db.session.commit()

    def ids(**filters):
        return [q.id for q in db.session.scalars(banks.question_query(bank, banks.QuestionFilter(**filters)))]

    assert ids() == [c.id, b.id, a.id]
    assert ids(text="民主集中制") == [a.id]
    assert ids(text="100%") == [b.id]
    assert ids(text="%") == [b.id]  # a literal percent sign, not a wildcard
    assert ids(text="_") == [b.id]
    assert ids(type="fill") == [c.id]
    assert ids(tag="党章") == [b.id, a.id]
    assert ids(tag="党费", difficulty=4) == [b.id]
    assert ids(difficulty=2) == [a.id]
    assert ids(state="disabled") == [c.id]
    assert ids(state="enabled") == [b.id, a.id]
    assert banks.bank_tags(bank) == [("党章", 2), ("党费", 1)]
    tagged = db.session.scalars(sa.select(Question.id).where(banks.tag_clause("党章")).order_by(Question.id)).all()
    assert tagged == [a.id, b.id, d.id]


def test_a_question_of_another_bank_is_not_found_through_this_bank(app, admin):
    bank = banks.create_bank("题库", creator=admin)
    other = banks.create_bank("别的题库", creator=admin)
    question = banks.add_question(other, single())

    with pytest.raises(NotFound):
        banks.get_question_or_404(bank, question.id)


def test_bank_summaries_count_all_and_enabled_questions(app, admin):
    bank = banks.create_bank("乙题库", creator=admin)
    banks.create_bank("甲空题库", creator=admin)
    banks.add_question(bank, single("一（ ）"))
    banks.set_question_disabled(banks.add_question(bank, single("二（ ）")), True)

    summaries = {s.bank.name: (s.total, s.enabled) for s in banks.bank_summaries()}
    assert summaries == {"乙题库": (2, 1), "甲空题库": (0, 0)}


def test_prepare_writes_nothing_and_confirm_writes_every_valid_question_at_once(app, admin, frozen_clock):
    bank = banks.create_bank("题库", creator=admin)
    db.session.commit()
    report = banks.prepare_import(bank, "bank.gift", GIFT.encode(), None, admin=admin, now=frozen_clock.now)
    db.session.commit()

    assert [item.ok for item in report.items] == [True, True, False, True]
    assert report.token and count_questions() == 0

    confirmed_bank, confirmed = banks.confirm_import(report.token, admin=admin, now=frozen_clock.advance(60))
    db.session.commit()
    assert confirmed_bank.id == bank.id and len(confirmed.valid) == 3
    assert [q.title for q in db.session.scalars(sa.select(Question).order_by(Question.id))] == ["一", "二", "四"]


def test_a_staged_import_is_used_once(app, admin, frozen_clock):
    bank = banks.create_bank("题库", creator=admin)
    report = banks.prepare_import(bank, "bank.gift", GIFT.encode(), None, admin=admin, now=frozen_clock.now)
    banks.confirm_import(report.token, admin=admin, now=frozen_clock.now)
    db.session.commit()

    with pytest.raises(NotFound):
        banks.confirm_import(report.token, admin=admin, now=frozen_clock.now)
    assert count_questions() == 3


def test_only_the_uploading_admin_may_confirm_within_a_day(app, admin, make_user, frozen_clock):
    bank = banks.create_bank("题库", creator=admin)
    report = banks.prepare_import(bank, "bank.gift", GIFT.encode(), None, admin=admin, now=frozen_clock.now)

    with pytest.raises(NotFound):
        banks.confirm_import(report.token, admin=make_user(role=Role.ADMIN), now=frozen_clock.now)
    with pytest.raises(NotFound):
        banks.confirm_import(report.token, admin=admin, now=frozen_clock.now + timedelta(days=1, seconds=1))
    with pytest.raises(NotFound):
        banks.confirm_import("../../etc/passwd", admin=admin, now=frozen_clock.now)
    assert count_questions() == 0


def test_questions_already_in_the_bank_or_repeated_in_the_file_are_skipped(app, admin, frozen_clock):
    bank = banks.create_bank("题库", creator=admin)
    existing = banks.add_question(bank, ParsedQuestion("true_false", "预备期一年", answer={"value": True}))
    text = GIFT + "\n\n::again::中共一大于哪年召开？  {=1921 ~1927}\n"
    report = banks.prepare_import(bank, "bank.gift", text.encode(), None, admin=admin, now=frozen_clock.now)

    reasons = {item.label: " ".join(str(p) for p in item.problems) for item in report.skipped}
    assert f"#{existing.id}" in reasons["四"]
    assert "line 1" in reasons["again"]
    assert [item.label for item in report.valid] == ["一", "二"]


def test_confirm_skips_questions_added_to_the_bank_since_the_upload(app, admin, frozen_clock):
    bank = banks.create_bank("题库", creator=admin)
    report = banks.prepare_import(bank, "bank.gift", GIFT.encode(), None, admin=admin, now=frozen_clock.now)
    banks.add_question(bank, ParsedQuestion("true_false", "预备期一年", answer={"value": True}))
    db.session.commit()

    _, confirmed = banks.confirm_import(report.token, admin=admin, now=frozen_clock.now)
    db.session.commit()
    assert len(confirmed.valid) == 2 and len(confirmed.skipped) == 1
    assert count_questions(bank) == 3


def test_an_unreadable_file_raises_and_stages_nothing(app, admin, frozen_clock):
    bank = banks.create_bank("题库", creator=admin)
    with pytest.raises(ValidationFailed):
        banks.prepare_import(bank, "bank.xlsx", b"not a workbook", None, admin=admin, now=frozen_clock.now)


def test_a_file_with_no_valid_question_gets_no_token(app, admin, frozen_clock):
    bank = banks.create_bank("题库", creator=admin)
    report = banks.prepare_import(bank, "bank.gift", b"essay{}", None, admin=admin, now=frozen_clock.now)
    assert report.token is None and len(report.skipped) == 1


def test_the_staging_file_holds_only_the_checked_questions(app, admin, frozen_clock):
    bank = banks.create_bank("题库", creator=admin)
    report = banks.prepare_import(bank, "bank.gift", GIFT.encode(), None, admin=admin, now=frozen_clock.now)
    path = banks._staging_dir() / f"{banks.STAGING_PREFIX}{report.token}.json"
    staged = json.loads(path.read_text(encoding="utf-8"))

    assert staged["admin_id"] == admin.id and staged["bank_id"] == bank.id
    assert [entry["line"] for entry in staged["questions"]] == [1, 3, 7]
    path.unlink()


def test_the_demo_bank_is_seeded_once_with_every_type_explained_and_tagged(app):
    from lms.exams.questions import demo as demo_banks

    demo_banks.seed_demo()
    db.session.commit()
    demo_banks.seed_demo()
    db.session.commit()

    bank = banks.find_bank(demo_banks.DEMO_BANK)
    questions = banks.export_questions(bank)
    assert len(questions) == len(demo_banks.QUESTIONS) >= 40
    assert {q.type for q in questions} == {"single", "multiple", "true_false", "fill"}
    assert all(q.tags for q in questions)
    assert sum(1 for q in questions if q.explanation) >= 35


def test_a_failure_while_storing_writes_none_of_the_questions_and_keeps_the_upload(
    app, admin, frozen_clock, monkeypatch
):
    bank = banks.create_bank("题库", creator=admin)
    db.session.commit()
    tagged = "// [tag:党史]\n" + GIFT  # the tag rows are the second of the two statements
    report = banks.prepare_import(bank, "bank.gift", tagged.encode(), None, admin=admin, now=frozen_clock.now)
    real_execute = db.session.execute

    def failing_execute(statement, *args, **kwargs):
        if getattr(getattr(statement, "table", None), "name", "") == QuestionTag.__tablename__:
            raise sa.exc.OperationalError("INSERT INTO question_tags", {}, Exception("disk full"))
        return real_execute(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "execute", failing_execute)
    with pytest.raises(sa.exc.OperationalError):
        banks.confirm_import(report.token, admin=admin, now=frozen_clock.now)
    db.session.rollback()
    monkeypatch.undo()
    assert count_questions() == 0

    banks.confirm_import(report.token, admin=admin, now=frozen_clock.now)
    db.session.commit()
    assert count_questions() == 3
