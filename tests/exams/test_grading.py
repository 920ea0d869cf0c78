"""Grading rules of DESIGN.md §4, per question type, as pure functions."""

import pytest

from lms.exams.questions.models import Outcome, QuestionType
from lms.exams.questions.types import blank_count, grade, normalize_blank, stem_parts

SINGLE = QuestionType.SINGLE
MULTIPLE = QuestionType.MULTIPLE
TF = QuestionType.TRUE_FALSE
FILL = QuestionType.FILL


def test_single_choice_is_all_or_nothing():
    assert grade(SINGLE, {"choice": 2}, {"choice": 2}, 5).points == 5
    assert grade(SINGLE, {"choice": 2}, {"choice": 2}, 5).outcome == Outcome.CORRECT
    assert grade(SINGLE, {"choice": 2}, {"choice": 1}, 5).points == 0
    assert grade(SINGLE, {"choice": 2}, {"choice": 1}, 5).outcome == Outcome.WRONG


def test_true_false_is_all_or_nothing_and_false_is_an_answer():
    assert grade(TF, {"value": False}, {"value": False}, 2).points == 2
    assert grade(TF, {"value": True}, {"value": False}, 2).outcome == Outcome.WRONG
    assert grade(TF, {"value": True}, {"value": 1}, 2).outcome == Outcome.UNANSWERED


@pytest.mark.parametrize("response", [None, {}, {"choice": None}, {"choices": []}, {"blanks": ["", "  "]}])
def test_missing_or_empty_response_is_unanswered_and_earns_nothing(response):
    for question_type, key in [
        (SINGLE, {"choice": 0}),
        (MULTIPLE, {"choices": [0]}),
        (FILL, {"blanks": [["a"], ["b"]]}),
    ]:
        result = grade(question_type, key, response, 3)
        assert result.points == 0
        assert result.outcome == Outcome.UNANSWERED


def test_multiple_choice_all_right_earns_everything_with_or_without_partial_credit():
    for partial in (False, True):
        result = grade(MULTIPLE, {"choices": [0, 2, 3]}, {"choices": [3, 0, 2]}, 4, partial_credit=partial)
        assert (result.points, result.outcome) == (4, Outcome.CORRECT)


def test_multiple_choice_missing_an_option_earns_half_only_with_partial_credit():
    key = {"choices": [0, 2, 3]}
    assert grade(MULTIPLE, key, {"choices": [0, 2]}, 4, partial_credit=True).points == 2
    assert grade(MULTIPLE, key, {"choices": [0, 2]}, 4, partial_credit=True).outcome == Outcome.PARTIAL
    assert grade(MULTIPLE, key, {"choices": [3]}, 4, partial_credit=True).points == 2
    assert grade(MULTIPLE, key, {"choices": [0, 2]}, 4, partial_credit=False).points == 0
    assert grade(MULTIPLE, key, {"choices": [0, 2]}, 4, partial_credit=False).outcome == Outcome.WRONG


def test_multiple_choice_with_a_wrong_option_earns_nothing_even_with_partial_credit():
    key = {"choices": [0, 2, 3]}
    assert grade(MULTIPLE, key, {"choices": [0, 1]}, 4, partial_credit=True).points == 0
    assert grade(MULTIPLE, key, {"choices": [0, 1, 2, 3]}, 4, partial_credit=True).points == 0


def test_fill_in_earns_a_share_per_blank():
    key = {"blanks": [["全心全意为人民服务"], ["实现共产主义", "共产主义"]]}
    both = grade(FILL, key, {"blanks": ["全心全意为人民服务", "共产主义"]}, 4)
    one = grade(FILL, key, {"blanks": ["为人民服务", "实现共产主义"]}, 4)
    none = grade(FILL, key, {"blanks": ["错", "错"]}, 4)
    assert (both.points, both.outcome) == (4, Outcome.CORRECT)
    assert (one.points, one.outcome) == (2, Outcome.PARTIAL)
    assert (none.points, none.outcome) == (0, Outcome.WRONG)


def test_fill_in_folds_full_width_to_half_width_case_and_surrounding_space():
    key = {"blanks": [["CPC"], ["1921"], ["Marx Lenin"]]}
    response = {"blanks": ["  ｃｐｃ ", "１９２１", "marx\u3000\u3000LENIN"]}
    assert grade(FILL, key, response, 3).points == 3


def test_fill_in_answer_with_missing_blanks_grades_the_ones_given():
    key = {"blanks": [["一"], ["二"], ["三"]]}
    result = grade(FILL, key, {"blanks": ["一"]}, 3)
    assert result.points == 1
    assert result.outcome == Outcome.PARTIAL


def test_normalize_blank_is_nfkc_trimmed_casefolded():
    assert normalize_blank("\u3000ＡＢＣ（１）  ") == "abc(1)"


def test_points_are_not_left_with_float_noise():
    result = grade(FILL, {"blanks": [["a"], ["b"], ["c"]]}, {"blanks": ["a", "x", "x"]}, 1)
    assert result.points == 0.3333


def test_blank_count_comes_from_the_key():
    assert blank_count({"blanks": [["a"], ["b"]]}) == 2
    assert blank_count({}) == 1


def test_stem_parts_places_numbered_markers():
    assert stem_parts("A{{2}}B{{1}}C", 2) == ["A", 1, "B", 0, "C"]
    assert stem_parts("A{{1}}B{{3}}", 2) is None


@pytest.mark.parametrize(
    "stem", ["党的宗旨是____，理想是______。", "党的宗旨是（ ），理想是（）。", "党的宗旨是( )，理想是()。"]
)
def test_stem_parts_places_plain_markers_in_order(stem):
    parts = stem_parts(stem, 2)
    assert parts is not None
    assert [p for p in parts if isinstance(p, int)] == [0, 1]
    assert parts[0] == "党的宗旨是"


def test_stem_without_matching_markers_puts_blanks_below():
    assert stem_parts("请填写党的宗旨。", 1) is None
    assert stem_parts("一____二____三____", 2) is None
