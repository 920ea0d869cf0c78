"""The Excel/CSV question template: one question per row.

Columns (Chinese headers, English ones accepted too): 题型, 题干, 选项A..选项H,
答案, 解析, 分值, 难度, 知识点, and an optional 标题. Answers: option letters
(``B``, ``ABD``, ``A,B,D``), 对/错 (正确/错误, √/×, T/F) for true/false, and for
fill-in the accepted answers of each blank separated by ``|``, alternatives for
one blank by ``/`` (or ``；`` when an answer contains a slash). Blanks in a fill-in stem are ``____`` or ``（ ）``.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l

from lms.errors import ValidationFailed
from lms.exams.questions.importers.common import (
    CHOICE_TYPES,
    DIFFICULTY_WORDS,
    FILL,
    LETTERS,
    MAX_QUESTIONS,
    SINGLE,
    TRUE_FALSE,
    TYPE_NAMES_ZH,
    ParsedItem,
    ParsedQuestion,
    ParseResult,
    Problem,
    answer_text,
    blanks_from_text,
    finish_question,
    fold,
    label_for,
    letters_to_indexes,
    points_text,
    tags_from_text,
    truth_from_text,
    type_from_text,
)
from lms.spreadsheets import read_table

OPTION_KEYS = tuple(f"option_{letter.lower()}" for letter in LETTERS)

COLUMNS: dict[str, tuple[str, ...]] = {
    "type": ("题型", "题目类型", "试题类型", "类型", "type", "question type"),
    "stem": ("题干", "题目", "试题", "题目内容", "stem", "question", "question text"),
    **{
        key: (f"选项{letter}", f"选项 {letter}", f"{letter}选项", letter, f"option {letter}", f"option{letter}")
        for key, letter in zip(OPTION_KEYS, LETTERS, strict=True)
    },
    "answer": ("答案", "正确答案", "参考答案", "标准答案", "answer", "correct answer"),
    "explanation": ("解析", "答案解析", "试题解析", "explanation", "feedback"),
    "points": ("分值", "分数", "points", "score", "mark"),
    "difficulty": ("难度", "difficulty"),
    "tags": ("知识点", "标签", "tags", "knowledge points", "tag"),
    "title": ("标题", "题目名称", "title", "name"),
}
REQUIRED = ("type", "stem", "answer")

HEADER = (
    "题型",
    "题干",
    *(f"选项{letter}" for letter in LETTERS),
    "答案",
    "解析",
    "分值",
    "难度",
    "知识点",
    "标题",
)
COLUMN_LABELS = dict(
    zip(
        ["type", "stem", *OPTION_KEYS, "answer", "explanation", "points", "difficulty", "tags", "title"],
        HEADER,
        strict=True,
    )
)
COLUMN_LABELS["options"] = "选项"

# (header, what goes in it) for the page that documents the template.
TEMPLATE_HELP = [
    ("题型", _l("Required. 单选题, 多选题, 判断题 or 填空题 (or single, multiple, true/false, fill).")),
    (
        "题干",
        _l(
            "Required. The question. In a fill-in question mark each blank with ____ or （ ）; "
            "without a mark the single blank goes at the end."
        ),
    ),
    ("选项A … 选项H", _l("Choice questions: 2 to 8 options, from A without gaps. Leave empty for other types.")),
    (
        "答案",
        _l(
            "Required. Choice: the letters, e.g. B, ABD or A,B,D. True/false: 对/错, 正确/错误, √/× or T/F. "
            "Fill-in: the answers of the blanks in order separated by |; several accepted answers "
            "of one blank separated by / (or by ； when an answer contains /), e.g. 1921|上海/上海市. "
            "An answer cannot contain | or ；."
        ),
    ),
    ("解析", _l("Optional. The explanation shown after the quiz, as its review policy allows.")),
    ("分值", _l("Optional, default 1. More than 0, at most 100.")),
    ("难度", _l("Optional, default 3. 1 (easy) to 5 (hard), or 容易/较易/中等/较难/困难.")),
    ("知识点", _l("Optional. Knowledge points (tags) separated by commas or 、.")),
    ("标题", _l("Optional. A short name of the question.")),
]

_NO_OPTIONS = [""] * 8
EXAMPLE_ROWS = [
    ["单选题", "中国共产党第一次全国代表大会于（ ）年召开。", "1919", "1921", "1927", "1949", "", "", "", "",
     "B", "1921年7月，中共一大在上海召开，宣告中国共产党成立。", 1, 2, "党史", ""],
    ["多选题", "“三会一课”中的“三会”是指（ ）。", "支部党员大会", "支部委员会", "党小组会", "民主生活会",
     "", "", "", "", "ABC", "“三会”是支部党员大会、支部委员会和党小组会，“一课”是党课。", 2, 3,
     "三会一课,组织生活", ""],
    ["判断题", "预备党员的预备期为一年。", *_NO_OPTIONS, "正确", "党章规定预备党员的预备期为一年。", 1, 1, "党章", ""],
    ["填空题", "中国共产党以____为最高理想和最终目标，于____年成立。", *_NO_OPTIONS,
     "实现共产主义/共产主义|1921", "", 2, 3, "党章,党史", ""],
]  # fmt: skip


def parse_table(filename: str, payload: bytes) -> ParseResult:
    """Parse a template .xlsx/.csv; a wrong file type, broken file or missing column raises."""
    table = read_table(filename, payload, COLUMNS)
    if table:
        missing = [COLUMN_LABELS[key] for key in REQUIRED if key not in table[0].values]
        if missing:
            raise ValidationFailed(
                _l(
                    "The first row must hold the template's column names; missing: %(columns)s.",
                    columns="、".join(missing),
                ),
                "file",
            )
    if not table:
        raise ValidationFailed(_l("The file holds no questions."), "file")
    if len(table) > MAX_QUESTIONS:
        raise ValidationFailed(_l("The file holds more than %(n)d questions.", n=MAX_QUESTIONS), "file")
    result = ParseResult("xlsx" if filename.lower().endswith(".xlsx") else "csv")
    for row in table:
        question, problems = question_from_values(row.values)
        label = label_for(row.values.get("title", ""), row.values.get("stem", ""))
        result.items.append(ParsedItem(row.number, label, question if not problems else None, problems))
    return result


def question_from_values(values: dict[str, str]) -> tuple[ParsedQuestion | None, list[Problem]]:
    """Read one row (column key -> text) into a checked question, or the problems with it."""
    problems: list[Problem] = []
    type_text = (values.get("type") or "").strip()
    kind = type_from_text(type_text)
    if not type_text:
        problems.append(Problem(_l("The question type is missing."), "type"))
    elif kind is None:
        problems.append(
            Problem(
                _l("Unknown question type “%(value)s” (use 单选题, 多选题, 判断题 or 填空题).", value=type_text), "type"
            )
        )
    options = [(values.get(key) or "").strip() for key in OPTION_KEYS]
    while options and not options[-1]:
        options.pop()
    answer_raw = (values.get("answer") or "").strip()
    answer: dict = {}
    if not answer_raw:
        problems.append(Problem(_l("The answer is missing."), "answer"))
    elif kind in CHOICE_TYPES:
        indexes, problem = letters_to_indexes(answer_raw, len(options))
        if problem:
            problems.append(problem)
        elif kind == SINGLE:
            if len(indexes) != 1:
                problems.append(Problem(_l("A single-choice question has exactly one answer letter."), "answer"))
            else:
                answer = {"choice": indexes[0]}
        else:
            answer = {"choices": indexes}
    elif kind == TRUE_FALSE:
        value = truth_from_text(answer_raw)
        if value is None:
            problems.append(
                Problem(
                    _l("“%(value)s” is not a true/false answer (use 对/错 or 正确/错误).", value=answer_raw), "answer"
                )
            )
        else:
            answer = {"value": value}
    elif kind == FILL:
        answer = {"blanks": blanks_from_text(answer_raw)}
    points = _points(values.get("points", ""), problems)
    difficulty = _difficulty(values.get("difficulty", ""), problems)
    question = ParsedQuestion(
        type=kind or "",
        stem=values.get("stem") or "",
        options=options if kind in CHOICE_TYPES else [],
        answer=answer,
        points=points,
        difficulty=difficulty,
        tags=tags_from_text(values.get("tags", "")),
        explanation=values.get("explanation") or "",
        title=values.get("title") or "",
    )
    if kind is not None:
        found = finish_question(question)
        if any(problem.field == "answer" for problem in problems):
            found = [problem for problem in found if problem.field != "answer"]
        problems += found
    elif not question.stem.strip():
        problems.append(Problem(_l("The stem (question text) is empty."), "stem"))
    return (None if problems else question), problems


def _points(text: str, problems: list[Problem]) -> float:
    text = fold(text).removesuffix("分").strip()
    if not text:
        return 1.0
    try:
        return float(text)
    except ValueError:
        problems.append(Problem(_l("“%(value)s” is not a number of points.", value=text), "points"))
        return 1.0


def _difficulty(text: str, problems: list[Problem]) -> int:
    word = fold(text)
    if not word:
        return 3
    if word in DIFFICULTY_WORDS:
        return DIFFICULTY_WORDS[word]
    try:
        number = float(word)
    except ValueError:
        number = 0
    if number.is_integer() and 1 <= number <= 5:
        return int(number)
    problems.append(Problem(_l("Difficulty must be 1 (easy) to 5 (hard)."), "difficulty"))
    return 3


def question_values(question: ParsedQuestion) -> dict[str, str]:
    """The row (column key -> text) that ``question_from_values`` reads back as ``question``."""
    values = {
        "type": TYPE_NAMES_ZH[question.type],
        "stem": question.stem,
        "answer": answer_text(question),
        "explanation": question.explanation,
        "points": points_text(question.points),
        "difficulty": str(question.difficulty),
        "tags": "，".join(question.tags),
        "title": question.title,
    }
    for key, option in zip(OPTION_KEYS, question.options, strict=False):
        values[key] = option
    return values


def export_rows(questions: Iterable[ParsedQuestion]) -> Iterable[list]:
    """Rows under ``HEADER`` for an Excel export that imports back to the same questions."""
    keys = ["type", "stem", *OPTION_KEYS, "answer", "explanation", "points", "difficulty", "tags", "title"]
    for question in questions:
        values = question_values(question)
        row: list = [values.get(key, "") for key in keys]
        row[keys.index("points")] = question.points if not float(question.points).is_integer() else int(question.points)
        row[keys.index("difficulty")] = question.difficulty
        yield row
