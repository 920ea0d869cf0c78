"""The Excel/CSV question template: one question per row.

Columns (Chinese headers, English ones accepted too): 题型, 题干, 选项A..选项H
(or one 选项 column holding them all, see ``split_options``), 答案, 解析, 分值, 难度,
知识点, and an optional 标题. Answers: option letters
(``B``, ``ABD``, ``A,B,D``), 对/错 (正确/错误, √/×, T/F) for true/false, and for
fill-in the accepted answers of each blank separated by ``|``, alternatives for
one blank by ``/`` (or ``；`` when an answer contains a slash). Blanks in a fill-in stem are ``____`` or ``（ ）``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable

from flask_babel import lazy_gettext as _l

from lms.errors import ValidationFailed
from lms.exams.questions.importers.common import (
    CHOICE_TYPES,
    DIFFICULTY_WORDS,
    FILL,
    INDEFINITE_WORDS,
    LETTERS,
    MAX_QUESTIONS,
    MULTIPLE,
    SINGLE,
    TRUE_FALSE,
    TYPE_NAMES_ZH,
    ParsedItem,
    ParsedQuestion,
    ParseResult,
    Problem,
    adopt_html,
    answer_text,
    fill_blanks,
    finish_question,
    fold,
    label_for,
    letters_to_indexes,
    points_text,
    tags_from_text,
    truth_from_text,
    type_from_text,
)
from lms.exams.questions.importers.sheet import read_sheet

logger = logging.getLogger(__name__)

OPTION_KEYS = tuple(f"option_{letter.lower()}" for letter in LETTERS)

COLUMNS: dict[str, tuple[str, ...]] = {
    "type": ("题型", "题目类型", "试题类型", "类型", "题型名称", "type", "question type"),
    "stem": ("题干", "题目", "试题", "题目内容", "试题内容", "题干内容", "试题题干", "问题", "stem", "question",
             "question text"),
    **{
        key: (f"选项{letter}", f"选项 {letter}", f"{letter}选项", letter, f"option {letter}", f"option{letter}",
              f"选项{number}", f"option {number}", f"option{number}")
        for number, (key, letter) in enumerate(zip(OPTION_KEYS, LETTERS, strict=True), start=1)
    },
    # all options in one cell, as other exam systems export them: "A.甲|B.乙" or one per line
    "options": ("选项", "选项内容", "备选项", "备选答案", "答案选项", "options", "choices"),
    "answer": ("答案", "正确答案", "参考答案", "标准答案", "试题答案", "answer", "correct answer"),
    "explanation": ("解析", "答案解析", "试题解析", "题目解析", "解析说明", "explanation", "feedback"),
    "points": ("分值", "分数", "得分", "每题分值", "points", "score", "mark"),
    "difficulty": ("难度", "难易程度", "难易度", "难度等级", "难度级别", "difficulty"),
    "tags": ("知识点", "标签", "考点", "所属知识点", "知识点分类", "所属分类", "试题分类", "题目分类", "分类", "章节",
             "tags", "knowledge points", "tag", "category"),
    "title": ("标题", "题目名称", "title", "name"),
    "format": ("格式", "文本格式", "format", "text format"),
}  # fmt: skip
REQUIRED = ("type", "stem", "answer")

TEMPLATE_OPTIONS = 8  # the template's option columns, 选项A..选项H; more are read (and exported) up to 选项Z


def header(option_count: int = TEMPLATE_OPTIONS) -> tuple[str, ...]:
    """The template's header row with ``option_count`` option columns (at least the template's 8)."""
    letters = LETTERS[: max(option_count, TEMPLATE_OPTIONS)]
    return ("题型", "题干", *(f"选项{letter}" for letter in letters), "答案", "解析", "分值", "难度", "知识点", "标题",
            "格式")  # fmt: skip


def _keys(option_count: int = TEMPLATE_OPTIONS) -> list[str]:
    options = OPTION_KEYS[: max(option_count, TEMPLATE_OPTIONS)]
    return ["type", "stem", *options, "answer", "explanation", "points", "difficulty", "tags", "title", "format"]


HEADER = header()
COLUMN_LABELS = dict(zip(_keys(len(LETTERS)), header(len(LETTERS)), strict=True))
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
    (
        "选项A … 选项H",
        _l(
            "Choice questions: 2 to %(n)d options, from A without gaps; add columns 选项I … 选项Z for more than 8. "
            "Leave empty for other types. Instead, one column 选项 may hold all options, as other exam systems "
            "export them: A.甲|B.乙|C.丙, or one per line.",
            n=len(LETTERS),
        ),
    ),
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
    (
        "格式",
        _l(
            "Optional. HTML: the stem, options and explanation are HTML (bold, lists, tables, sub/superscripts, "
            "links, images); anything unsafe is removed. Empty: plain text."
        ),
    ),
]

_NO_OPTIONS = [""] * TEMPLATE_OPTIONS
EXAMPLE_ROWS = [
    ["单选题", "中国共产党第一次全国代表大会于（ ）年召开。", "1919", "1921", "1927", "1949", "", "", "", "",
     "B", "1921年7月，中共一大在上海召开，宣告中国共产党成立。", 1, 2, "党史", "", ""],
    ["多选题", "“三会一课”中的“三会”是指（ ）。", "支部党员大会", "支部委员会", "党小组会", "民主生活会",
     "", "", "", "", "ABC", "“三会”是支部党员大会、支部委员会和党小组会，“一课”是党课。", 2, 3,
     "三会一课,组织生活", "", ""],
    ["判断题", "预备党员的预备期为一年。", *_NO_OPTIONS, "正确", "党章规定预备党员的预备期为一年。", 1, 1, "党章", "",
     ""],
    ["填空题", "中国共产党以____为最高理想和最终目标，于____年成立。", *_NO_OPTIONS,
     "实现共产主义/共产主义|1921", "", 2, 3, "党章,党史", "", ""],
]  # fmt: skip


def parse_table(filename: str, payload: bytes) -> ParseResult:
    """Parse a question workbook/.csv; a wrong file type, broken file or missing column raises.

    See ``lms.exams.questions.importers.sheet`` for how the sheet and its header row are
    found. Section rows (一、单选题（共10题）) are skipped and give their type to
    the rows below whose 题型 cell is empty.
    """
    sheet = read_sheet(filename, payload, COLUMNS)
    rows = sheet.rows
    sections = {number: kind for number, values in rows if (kind := section_type(values))}
    required = [key for key in REQUIRED if not (key == "type" and sections)]
    missing = [COLUMN_LABELS[key] for key in required if key not in sheet.header_texts]
    if missing:
        raise ValidationFailed(
            _l(
                "The header row (row %(row)d) must hold the template's column names; missing: %(columns)s.",
                row=sheet.header_row,
                columns="、".join(missing),
            ),
            "file",
        )
    questions = [(number, values) for number, values in rows if number not in sections]
    if not questions:
        raise ValidationFailed(_l("The file holds no questions."), "file")
    if len(questions) > MAX_QUESTIONS:
        raise ValidationFailed(_l("The file holds more than %(n)d questions.", n=MAX_QUESTIONS), "file")
    result = ParseResult("xlsx" if filename.lower().endswith(".xlsx") else "csv")
    if sheet.unknown_headers:
        result.notes.append(
            _l(
                "Columns not understood, their contents were not imported: %(columns)s.",
                columns="、".join(f"“{name}”" for name in sheet.unknown_headers),
            )
        )
    scale = difficulty_scale(sheet.header_texts.get("difficulty", ""))
    if scale == 3:
        result.notes.append(
            _l("Difficulty is on a 3-level scale in this file: 1 (easy), 2 and 3 (hard) became 1, 3 and 5.")
        )
    section = ""
    for number, values in rows:
        if number in sections:
            section = sections[number]
            continue
        notes: list = []
        if section and not (values.get("type") or "").strip():
            values = {**values, "type": section}
        try:
            question, problems = question_from_values(values, notes=notes, scale=scale)
        except Exception:  # a row must never break the whole import
            logger.exception("question row %d could not be read", number)
            question, problems = None, [Problem(_l("This row could not be read."))]
        label = label_for(values.get("title", ""), values.get("stem", ""))
        result.items.append(ParsedItem(number, label, question if not problems else None, problems, notes))
    return result


_SECTION_NUMBER = re.compile(
    r"^(?:第?[一二三四五六七八九十百\d]+\s*(?:部分|大题|节)?|[ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ]+|[IVX]+)\s*[、.．,，:：\s]\s*"
)
_SECTION_TAIL = re.compile(r"\s*(?:[（(【\[][^）)】\]]*[）)】\]]\s*)*[:：。.]?\s*$")


def section_type(values: dict[str, str]) -> str | None:
    """The question type a section row names (一、单选题（共10题，每题1分）), or None for other rows."""
    texts = {text.strip() for key, text in values.items() if text and text.strip()}
    if len(texts) != 1 or (values.get("stem") or "").strip() and (values.get("answer") or "").strip():
        return None
    text = unicodedata.normalize("NFKC", texts.pop())
    if len(text) > 80:
        return None
    core = _SECTION_TAIL.sub("", _SECTION_NUMBER.sub("", text, count=1))
    core = re.sub(r"^(?:第[一二三四五六七八九十\d]+部分)\s*", "", core)
    if not core:
        return None
    return core if type_from_text(core) or fold(core) in INDEFINITE_WORDS else None


def difficulty_scale(header: str) -> int:
    """3 when the difficulty header says the file grades 1–3 (难度（1-3）, 难度(三级)), else 5.

    Numbers alone cannot tell: a bank that happens to use only 1–3 is on the 1–5 scale.
    The words 易/中/难 need no scale: they are 1, 3 and 5.
    """
    folded = unicodedata.normalize("NFKC", header or "")
    return 3 if re.search(r"1\s*[-~～—–至到]\s*3|三级|3级", folded) else 5


def question_from_values(
    values: dict[str, str], *, notes: list | None = None, scale: int = 5
) -> tuple[ParsedQuestion | None, list[Problem]]:
    """Read one row (column key -> text) into a checked question, or the problems with it.

    ``notes`` receives what was changed on the way in (a difficulty not understood,
    a true/false answered by an option letter…); ``scale`` 3 reads difficulty 1–3.
    """
    notes = notes if notes is not None else []
    problems: list[Problem] = []
    type_text = (values.get("type") or "").strip()
    kind = type_from_text(type_text)
    indefinite = fold(type_text) in INDEFINITE_WORDS
    if indefinite:
        kind = MULTIPLE
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
    if not options and (values.get("options") or "").strip():
        options = split_options(values["options"])
    answer_raw = (values.get("answer") or "").strip()
    answer: dict = {}
    if not answer_raw:
        problems.append(Problem(_l("The answer is missing."), "answer"))
    elif kind == MULTIPLE and _WEIGHTED.search(answer_raw):
        answer = _weighted_answer(answer_raw, len(options), problems)
        if answer and indefinite:
            answer["indefinite"] = True
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
            answer = {"choices": indexes, **({"indefinite": True} if indefinite else {})}
    elif kind == TRUE_FALSE:
        value = _truth(answer_raw, options, notes)
        if value is None:
            problems.append(
                Problem(
                    _l("“%(value)s” is not a true/false answer (use 对/错 or 正确/错误).", value=answer_raw), "answer"
                )
            )
        else:
            answer = {"value": value}
    elif kind == FILL:
        answer = {"blanks": fill_blanks(values.get("stem") or "", answer_raw)}
    points = _points(values.get("points", ""), problems)
    difficulty = _difficulty(values.get("difficulty", ""), problems, notes, scale)
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
    text_format = fold(values.get("format") or "")
    if text_format == "html":
        adopt_html(question, notes)
    elif text_format not in ("", "text", "plain", "纯文本", "文本"):
        problems.append(Problem(_l("Unknown format “%(value)s” (use HTML, or leave it empty).", value=text_format)))
    if kind is not None:
        found = finish_question(question)
        if any(problem.field == "answer" for problem in problems):
            found = [problem for problem in found if problem.field != "answer"]
        problems += found
    elif not question.stem.strip():
        problems.append(Problem(_l("The stem (question text) is empty."), "stem"))
    return (None if problems else question), problems


# An option's letter in a cell holding them all: "A.", "B、", "(C)", "Ｄ：" at the start or after a separator.
_OPTION_MARK = re.compile(r"(?:^|(?<=[\s|｜;；,，]))[(（]?([A-ZＡ-Ｚ])\s*[.．、:：)）]\s*")
_OPTION_SEPARATOR = re.compile(r"[\s|｜;；,，]+$")


def split_options(text: str) -> list[str]:
    """The options of a cell that holds them all (from another exam system's export).

    Lettered ("A.人民民主专政|B.人民代表大会制度", "A、甲 B、乙", one per line): split at the letters
    A, B, C… in order, each option without its letter. Not lettered: one per line, else split at
    ``|`` or ``；``.
    """
    text = text.strip()
    cuts: list[tuple[int, int]] = []
    for match in _OPTION_MARK.finditer(text):
        letter = unicodedata.normalize("NFKC", match.group(1))
        if letter == LETTERS[len(cuts)] and (cuts or match.start() == 0):
            cuts.append((match.start(), match.end()))
            if len(cuts) == len(LETTERS):
                break
    if len(cuts) >= 2:
        ends = [start for start, _ in cuts[1:]] + [len(text)]
        return [_OPTION_SEPARATOR.sub("", text[end:stop]).strip() for (_, end), stop in zip(cuts, ends, strict=True)]
    for separator in (r"\r?\n", r"[|｜]", r"[；;]"):
        parts = [part.strip() for part in re.split(separator, text) if part.strip()]
        if len(parts) >= 2:
            return parts
    return [text]


_WEIGHTED = re.compile(r"([A-Za-zＡ-Ｚａ-ｚ])\s*[:：=＝]\s*([-+−]?\d+(?:\.\d+)?)\s*[%％]")


def _weighted_answer(text: str, count: int, problems: list[Problem]) -> dict:
    """ "A:50%, B:50%, C:-100%": per-option weights (options not named weigh 0)."""
    weights = [0.0] * count
    for letter, number in _WEIGHTED.findall(text):
        index = LETTERS.index(unicodedata.normalize("NFKC", letter).upper())
        if index >= count:
            problems.append(Problem(_l("The answer names option %(letter)s, which the question does not have.",
                                       letter=LETTERS[index]), "answer"))  # fmt: skip
            return {}
        weights[index] = float(number.replace("−", "-"))
    return {"choices": [i for i, w in enumerate(weights) if w > 0], "weights": weights}


def _truth(text: str, options: list[str], notes: list) -> bool | None:
    """对/错…; with options (A 错误, B 正确) a letter means its option's text, not A=true."""
    letters = unicodedata.normalize("NFKC", text).strip().upper()
    if options and len(letters) == 1 and letters in LETTERS[: len(options)]:
        value = truth_from_text(options[LETTERS.index(letters)])
        if value is not None:
            notes.append(
                _l(
                    "True/false answered with option %(letter)s (“%(option)s”): read as %(value)s.",
                    letter=letters,
                    option=options[LETTERS.index(letters)],
                    value="正确" if value else "错误",
                )
            )
            return value
    return truth_from_text(text)


def _points(text: str, problems: list[Problem]) -> float:
    text = fold(text).removesuffix("分").strip()
    if not text:
        return 1.0
    try:
        return float(text)
    except ValueError:
        problems.append(Problem(_l("“%(value)s” is not a number of points.", value=text), "points"))
        return 1.0


_THREE_LEVELS = {1: 1, 2: 3, 3: 5}


def _difficulty(text: str, problems: list[Problem], notes: list | None = None, scale: int = 5) -> int:
    """1..5 from a number, a word (容易…困难, 高/低), stars (★★) or 难度3; unknown words become 3 with a note."""
    word = fold(text)
    if not word:
        return 3
    if word in DIFFICULTY_WORDS:
        return DIFFICULTY_WORDS[word]
    stars = re.fullmatch(r"[★☆]+", word)
    digits = re.fullmatch(r"(?:难度|difficulty|level|等级|lv\.?)?\s*[:：]?\s*(\d+(?:\.\d+)?)\s*(?:级|星)?", word)
    number: float | None = None
    if stars:
        number = float(word.count("★"))
    elif digits:
        number = float(digits.group(1))
    if number is not None:
        if number.is_integer() and scale == 3 and 1 <= number <= 3:
            return _THREE_LEVELS[int(number)]
        if number.is_integer() and 1 <= number <= 5:
            return int(number)
        problems.append(Problem(_l("Difficulty must be 1 (easy) to 5 (hard)."), "difficulty"))
        return 3
    if notes is not None:
        notes.append(_l("Difficulty “%(value)s” was not understood and was set to 3 (medium).", value=text.strip()))
    return 3


def question_values(question: ParsedQuestion) -> dict[str, str]:
    """The row (column key -> text) that ``question_from_values`` reads back as ``question``."""
    answer = answer_text(question)
    if question.type == MULTIPLE and question.answer.get("weights"):
        answer = ", ".join(f"{LETTERS[i]}:{points_text(w)}%" for i, w in enumerate(question.answer["weights"]) if w)
    indefinite = question.type == MULTIPLE and question.answer.get("indefinite")
    values = {
        "type": INDEFINITE_WORDS[0] if indefinite else TYPE_NAMES_ZH[question.type],
        "stem": question.stem,
        "answer": answer,
        "explanation": question.explanation,
        "points": points_text(question.points),
        "difficulty": str(question.difficulty),
        "tags": "，".join(question.tags),
        "title": question.title,
        "format": "HTML" if question.html else "",
    }
    for key, option in zip(OPTION_KEYS, question.options, strict=False):
        values[key] = option
    return values


def export_rows(questions: Iterable[ParsedQuestion], option_count: int = TEMPLATE_OPTIONS) -> Iterable[list]:
    """Rows under ``header(option_count)`` for an Excel export that imports back to the same questions."""
    keys = _keys(option_count)
    for question in questions:
        values = question_values(question)
        row: list = [values.get(key, "") for key in keys]
        row[keys.index("points")] = question.points if not float(question.points).is_integer() else int(question.points)
        row[keys.index("difficulty")] = question.difficulty
        yield row


def export_table(questions: list[ParsedQuestion]) -> tuple[tuple[str, ...], Iterable[list]]:
    """(header, rows) of an export: as many option columns as the question with the most options needs."""
    count = max((len(question.options) for question in questions), default=0)
    return header(count), export_rows(questions, count)
