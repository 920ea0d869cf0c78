"""The records every importer produces, and the checks every question passes.

Question types are the values of ``lms.exams.questions.models.QuestionType`` as plain
strings, and ``options``/``answer`` follow the JSON contract documented in
``lms/exams/questions/models.py`` (fill-in blanks are ``{{1}}``, ``{{2}}``... in the stem).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field

from flask_babel import lazy_gettext as _l

from lms.exams.questions import question_html
from lms.exams.questions.types import LETTERS, MAX_OPTIONS

SINGLE, MULTIPLE, TRUE_FALSE, FILL = "single", "multiple", "true_false", "fill"
TYPES = (SINGLE, MULTIPLE, TRUE_FALSE, FILL)
CHOICE_TYPES = (SINGLE, MULTIPLE)

MAX_BLANKS = 20
MAX_STEM_CHARS = 5000
MAX_OPTION_CHARS = 1000
MAX_EXPLANATION_CHARS = 10000
MAX_TITLE_CHARS = 200
MAX_TAGS = 20
MAX_TAG_CHARS = 100
MAX_POINTS = 100
MAX_QUESTIONS = 10_000  # per file

# {{1}}, {{ 2 }}: the stored blank markers (spaces tolerated on the way in).
MARKER = re.compile(r"\{\{\s*(\d{1,2})\s*\}\}")
# What people type for a blank: ___ (3+), full-width ＿＿, or empty brackets （ ） / ( ).
# A run of 4+ spaces (or 2+ ideographic spaces) inside a text is a blank too: 原则是        。
BLANK_SPOT = re.compile(r"_{3,}|＿{2,}|（[\s\u3000]*）|\([\s\u3000]*\)|[ \u00a0\u3000]{4,}|\u3000{2,}")
# In HTML, spaces are layout: only ____ and empty brackets mark blanks.
HTML_BLANK_SPOT = re.compile(r"_{3,}|＿{2,}|（[\s\u3000]*）|\([\s\u3000]*\)")
MAX_HTML_CHARS = 50_000  # the HTML source of one text; its visible text has the plain limits


def marker(number: int) -> str:
    """The stored marker of blank ``number`` (1-based): ``{{1}}``."""
    return "{{" + str(number) + "}}"


@dataclass
class Problem:
    """Why a question cannot be imported; ``field`` names the template column when known."""

    message: object  # a lazy_gettext string, rendered in the reader's language
    field: str | None = None

    def __str__(self) -> str:
        return str(self.message)


@dataclass
class ParsedQuestion:
    type: str
    stem: str
    options: list[str] = field(default_factory=list)
    answer: dict = field(default_factory=dict)
    points: float = 1.0
    difficulty: int = 3
    tags: list[str] = field(default_factory=list)
    explanation: str = ""
    title: str = ""
    html: bool = False  # stem, options and explanation are HTML (``lms.exams.questions.question_html``)
    images: dict = field(default_factory=dict, compare=False)  # imported images not stored yet: name -> base64

    def as_dict(self) -> dict:
        return asdict(self)

    def stem_text(self) -> str:
        """The stem as plain text (an HTML stem without its tags)."""
        return question_html.to_text(self.stem) if self.html else self.stem

    def fingerprint(self) -> tuple:
        """What makes two questions the same question: type, stem and options, spacing ignored."""
        return (self.type, _squash(self.stem), tuple(_squash(option) for option in self.options))


@dataclass
class ParsedItem:
    """One question of a file: where it starts, a label a person recognises, and the outcome."""

    line: int
    label: str
    question: ParsedQuestion | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[object] = field(default_factory=list)  # kept but changed, e.g. feedback merged

    @property
    def ok(self) -> bool:
        return self.question is not None and not self.problems


@dataclass
class ParseResult:
    format: str
    items: list[ParsedItem] = field(default_factory=list)
    notes: list[object] = field(default_factory=list)  # about the whole file: columns not understood, scales

    @property
    def valid(self) -> list[ParsedItem]:
        return [item for item in self.items if item.ok]

    @property
    def skipped(self) -> list[ParsedItem]:
        return [item for item in self.items if not item.ok]


def _squash(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def label_for(title: str, stem: str, length: int = 30) -> str:
    """A question's title, else the first words of its stem on one line."""
    stem = question_html.to_text(stem) if "<" in (stem or "") else stem
    text = (title or "").strip() or " ".join(MARKER.sub("____", stem or "").split())
    return text if len(text) <= length else text[: length - 1] + "…"


def fold(text: str) -> str:
    """Full-width to half-width, trimmed and case-folded: how answer words are compared."""
    return unicodedata.normalize("NFKC", text or "").strip().casefold()


def mark_blanks(stem: str, count: int, spot: re.Pattern = BLANK_SPOT) -> tuple[str, Problem | None]:
    """Return the stem with its blanks as ``{{1}}``..``{{count}}``, or a problem.

    Accepts numbered markers (each of 1..count once), else ``____`` or empty
    ``（ ）`` in order; a stem with no blank at all and one answer gets ``{{1}}``
    at its end (a short-answer question).
    """
    numbers = [int(n) for n in MARKER.findall(stem)]
    if numbers:
        if sorted(numbers) != list(range(1, count + 1)):
            return stem, Problem(
                _l(
                    "The stem's blank markers do not match the %(n)d blanks of the answer: "
                    "write {{1}} to {{%(n)d}}, each once.",
                    n=count,
                ),
                "stem",
            )
        return MARKER.sub(lambda m: marker(int(m.group(1))), stem), None
    spots = spot.findall(stem)
    if spots:
        if len(spots) != count:
            return stem, Problem(
                _l(
                    "The stem has %(found)d blanks (____ or （ ）) but the answer gives %(n)d.",
                    found=len(spots),
                    n=count,
                ),
                "stem",
            )
        numbering = iter(range(1, count + 1))
        return spot.sub(lambda m: marker(next(numbering)), stem), None
    if count == 1:
        return stem + "{{1}}", None
    return stem, Problem(
        _l("The stem marks no blanks: write ____ or （ ） where each of the %(n)d answers goes.", n=count),
        "stem",
    )


def finish_question(question: ParsedQuestion) -> list[Problem]:
    """Normalise ``question`` in place and return what makes it unusable (empty when fine).

    Trims texts, caps the title, numbers fill-in blanks (``mark_blanks``) and
    checks lengths, option counts, the answer's shape for the type, points
    (0 < points <= 100) and difficulty (1..5).
    """
    problems: list[Problem] = []
    question.stem = question_html.unmark(question.stem).strip()
    question.title = " ".join((question.title or "").split())[:MAX_TITLE_CHARS]
    question.explanation = question_html.unmark(question.explanation).strip()
    question.options = [question_html.unmark(option).strip() for option in question.options]
    if question.html:
        problems += _check_html(question)
    question.tags = list(dict.fromkeys(tag.strip() for tag in question.tags if tag and tag.strip()))
    if question.type not in TYPES:
        problems.append(Problem(_l("Unknown question type."), "type"))
        return problems
    if not question.stem or not MARKER.sub("", _visible(question, question.stem)).strip():
        problems.append(Problem(_l("The stem (question text) is empty."), "stem"))
    elif len(_visible(question, question.stem)) > MAX_STEM_CHARS:
        problems.append(Problem(_l("The stem is longer than %(n)d characters.", n=MAX_STEM_CHARS), "stem"))
    if len(_visible(question, question.explanation)) > MAX_EXPLANATION_CHARS:
        problems.append(
            Problem(_l("The explanation is longer than %(n)d characters.", n=MAX_EXPLANATION_CHARS), "explanation")
        )
    if len(question.tags) > MAX_TAGS:
        problems.append(Problem(_l("A question has at most %(n)d knowledge points.", n=MAX_TAGS), "tags"))
    if any(len(tag) > MAX_TAG_CHARS for tag in question.tags):
        problems.append(Problem(_l("A knowledge point is at most %(n)d characters long.", n=MAX_TAG_CHARS), "tags"))
    if not isinstance(question.points, int | float) or not 0 < question.points <= MAX_POINTS:
        problems.append(Problem(_l("Points must be more than 0 and at most %(n)d.", n=MAX_POINTS), "points"))
    else:
        question.points = round(float(question.points), 2)
    if question.difficulty not in (1, 2, 3, 4, 5):
        problems.append(Problem(_l("Difficulty must be 1 (easy) to 5 (hard)."), "difficulty"))

    if question.type in CHOICE_TYPES:
        problems += _check_choices(question)
    elif question.type == TRUE_FALSE:
        question.options = []
        if not isinstance(question.answer.get("value"), bool):
            problems.append(Problem(_l("A true/false question needs the answer true or false."), "answer"))
    else:
        question.options = []
        problems += _check_blanks(question)
    if MARKER.search(question.stem) and question.type != FILL:
        problems.append(Problem(_l("Only fill-in questions may contain blank markers like {{1}}."), "stem"))
    return problems


def _visible(question: ParsedQuestion, text: str) -> str:
    return question_html.to_text(text) if question.html else text


def _check_html(question: ParsedQuestion) -> list[Problem]:
    """Clean an HTML question's texts again (whatever way they came in) and bound their source."""
    question.stem = question_html.sanitize(question.stem)
    question.options = [question_html.sanitize(option) for option in question.options]
    question.explanation = question_html.sanitize(question.explanation)
    if any(len(text) > MAX_HTML_CHARS for text in (question.stem, *question.options, question.explanation)):
        return [Problem(_l("A text of the question is longer than %(n)d characters of HTML.", n=MAX_HTML_CHARS))]
    return []


def adopt_html(question: ParsedQuestion, notes: list, files: dict[str, bytes] | None = None) -> None:
    """Clean the texts of a question read as HTML (images into ``question.images``, drops noted).

    A question whose HTML holds no more than paragraphs and line breaks becomes plain text.
    """
    images: dict[str, str] = {}
    stem = question_html.clean(question.stem, images=images, notes=notes, files=files)
    options = [question_html.clean(option, images=images, notes=notes, files=files) for option in question.options]
    explanation = question_html.clean(question.explanation, images=images, notes=notes, files=files)
    if any(question_html.is_rich(text) for text in (stem, *options, explanation)):
        question.html, question.images = True, images
        question.stem, question.options, question.explanation = stem, options, explanation
    else:
        question.html, question.images = False, {}
        question.stem = question_html.to_text(stem)
        question.options = [question_html.to_text(option) for option in options]
        question.explanation = question_html.to_text(explanation)


def _check_choices(question: ParsedQuestion) -> list[Problem]:
    problems: list[Problem] = []
    options = question.options
    while options and not options[-1]:
        options.pop()
    if any(not option for option in options):
        problems.append(Problem(_l("An option is empty while a later one is filled."), "options"))
    if len(options) < 2:
        problems.append(Problem(_l("A choice question needs at least two options."), "options"))
    if len(options) > MAX_OPTIONS:
        problems.append(
            Problem(
                _l("A question has at most %(n)d options (A–%(last)s).", n=MAX_OPTIONS, last=LETTERS[-1]), "options"
            )
        )
    if any(len(_visible(question, option)) > MAX_OPTION_CHARS for option in options):
        problems.append(Problem(_l("An option is longer than %(n)d characters.", n=MAX_OPTION_CHARS), "options"))
    if len({_squash(option) for option in options}) != len(options):
        problems.append(Problem(_l("Two options have the same text."), "options"))
    if question.type == SINGLE:
        choice = question.answer.get("choice")
        if not isinstance(choice, int) or not 0 <= choice < len(options):
            problems.append(Problem(_l("The answer must name one of the options."), "answer"))
    else:
        choices = question.answer.get("choices")
        if not isinstance(choices, list) or not all(isinstance(c, int) for c in choices):
            problems.append(Problem(_l("The answer must name the correct options."), "answer"))
        else:
            choices = sorted(set(choices))
            answer = {"choices": choices}
            weights = question.answer.get("weights")
            if weights is not None:
                problems += _check_weights(weights, len(options))
                if not problems:
                    answer["weights"] = [round(float(w), 5) for w in weights]
                    choices = answer["choices"] = [i for i, w in enumerate(weights) if w > 0]
            if question.answer.get("indefinite"):
                answer["indefinite"] = True
            question.answer = answer
            if any(not 0 <= c < len(options) for c in choices):
                problems.append(Problem(_l("The answer must name only existing options."), "answer"))
            elif not choices:
                problems.append(Problem(_l("The answer must name the correct options."), "answer"))
            elif len(choices) < 2 and "weights" not in answer and "indefinite" not in answer:
                problems.append(
                    Problem(
                        _l("A multiple-choice question needs at least two correct options (use single choice)."),
                        "answer",
                    )
                )
    return problems


def _check_weights(weights, count: int) -> list[Problem]:
    """Per-option weights (percent, −100..100) whose positive ones add up to 100."""
    if (
        not isinstance(weights, list)
        or len(weights) != count
        or not all(isinstance(w, int | float) and not isinstance(w, bool) and -100 <= w <= 100 for w in weights)
    ):
        return [Problem(_l("Option weights must be one number from −100 to 100 for each option."), "answer")]
    if abs(sum(w for w in weights if w > 0) - 100) > 0.1:
        return [Problem(_l("The positive option weights must add up to 100%."), "answer")]
    return []


def _check_blanks(question: ParsedQuestion) -> list[Problem]:
    blanks = question.answer.get("blanks")
    if not isinstance(blanks, list) or not blanks:
        return [Problem(_l("A fill-in question needs the accepted answer of each blank."), "answer")]
    cleaned = []
    for number, accepted in enumerate(blanks, start=1):
        words = list(dict.fromkeys(str(word).strip() for word in accepted or () if str(word).strip()))
        if not words:
            return [Problem(_l("Blank %(n)d has no accepted answer.", n=number), "answer")]
        if any("|" in word or "｜" in word for word in words):
            return [Problem(_l("An accepted answer may not contain “|” (it separates blanks)."), "answer")]
        cleaned.append(words)
    if len(cleaned) > MAX_BLANKS:
        return [Problem(_l("A question has at most %(n)d blanks.", n=MAX_BLANKS), "answer")]
    question.answer = {"blanks": cleaned}
    stem, problem = mark_blanks(question.stem, len(cleaned), HTML_BLANK_SPOT if question.html else BLANK_SPOT)
    if problem:
        return [problem]
    question.stem = stem
    return []


# --- The words of the Excel template (also used by the question form) ---------------

TYPE_WORDS = {
    SINGLE: ("单选题", "单选", "单项选择题", "单项选择", "单选择题", "single", "single choice", "sc", "radio"),
    MULTIPLE: (
        "多选题",
        "多选",
        "多项选择题",
        "多项选择",
        "multiple",
        "multiple choice",
        "multiple answer",
        "mc",
        "checkbox",
    ),
    TRUE_FALSE: ("判断题", "判断", "是非题", "对错题", "true false", "truefalse", "true or false", "tf", "judge"),
    FILL: ("填空题", "填空", "fill", "fill in", "fill in the blank", "fill in blank", "blank", "blanks"),
}
INDEFINITE_WORDS = ("不定项选择题", "不定项选择", "不定项", "indefinite", "multiple response")
TYPE_NAMES_ZH = {SINGLE: "单选题", MULTIPLE: "多选题", TRUE_FALSE: "判断题", FILL: "填空题"}
_TYPE_LOOKUP = {word: key for key, words in TYPE_WORDS.items() for word in (key, *words)}

TRUE_WORDS = ("对", "正确", "是", "√", "✓", "✔", "t", "true", "y", "yes", "1", "a")
FALSE_WORDS = ("错", "错误", "否", "×", "✗", "✘", "x", "f", "false", "n", "no", "0", "b")
DIFFICULTY_WORDS = {
    "容易": 1,
    "简单": 1,
    "易": 1,
    "easy": 1,
    "较易": 2,
    "较简单": 2,
    "中等": 3,
    "中": 3,
    "一般": 3,
    "medium": 3,
    "较难": 4,
    "难": 5,
    "困难": 5,
    "hard": 5,
    "低": 1,
    "较低": 2,
    "偏易": 2,
    "适中": 3,
    "中档": 3,
    "较高": 4,
    "偏难": 4,
    "高": 5,
    "很难": 5,
}
TAG_SPLIT = re.compile(r"[,，;；、|｜\n]+")
BLANK_SPLIT = re.compile(r"[|｜]")
SEMICOLONS = re.compile(r"[;；]")
SLASHES = re.compile(r"[/／]")
LETTER_SEPARATORS = re.compile(r"[\s,，、;；/|.。]+")


def type_from_text(text: str) -> str | None:
    """单选题/多选题/判断题/填空题 or their English names (any case, any width) -> type."""
    key = re.sub(r"[\s_\-/]+", " ", fold(text)).strip()
    return _TYPE_LOOKUP.get(key) or _TYPE_LOOKUP.get(key.replace(" ", ""))


def letters_to_indexes(text: str, option_count: int) -> tuple[list[int], Problem | None]:
    """ "ABD", "A,B,D", "a、b" -> [0, 1, 3]; a letter with no option is a problem."""
    letters = LETTER_SEPARATORS.sub("", unicodedata.normalize("NFKC", text or "")).upper()
    if not letters:
        return [], Problem(_l("The answer is empty."), "answer")
    indexes = []
    for letter in letters:
        if letter not in LETTERS:
            return [], Problem(
                _l("“%(value)s” is not an option letter (A–%(last)s).", value=letter, last=LETTERS[-1]), "answer"
            )
        index = LETTERS.index(letter)
        if index >= option_count and not option_count:
            message = _l("The answer names option %(letter)s, but the question has no options.", letter=letter)
            return [], Problem(message, "answer")
        if index >= option_count:
            return [], Problem(
                _l(
                    "The answer names option %(letter)s, but the question only has options A–%(last)s.",
                    letter=letter,
                    last=LETTERS[option_count - 1],
                ),
                "answer",
            )
        indexes.append(index)
    return sorted(set(indexes)), None


def truth_from_text(text: str) -> bool | None:
    """对/错, 正确/错误, √/×, T/F, TRUE/FALSE, 是/否 (and A/B) -> True/False; else None."""
    word = fold(text)
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


_ESCAPED = "|｜/／;；、\\"
_UNESCAPE = re.compile(r"\\([|｜/／;；、\\])")


def _split(text: str, separators: str) -> list[str]:
    """Split at the separators not escaped with a backslash (escapes kept for ``_unescape``)."""
    parts, current, index = [], [], 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _ESCAPED:
            current.append(text[index : index + 2])
            index += 2
            continue
        if char in separators:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(r"\1", text)


def _alternatives(blank: str) -> list[str]:
    separators = ";；" if len(_split(blank, ";；")) > 1 else "/／"
    return [_unescape(word).strip() for word in _split(blank, separators) if word.strip()]


def blanks_from_text(text: str) -> list[list[str]]:
    """ "中国共产党|1921/一九二一" -> [["中国共产党"], ["1921", "一九二一"]].

    Blanks are separated by ``|``; the accepted answers of one blank by ``；``
    (or ``;``) when the blank has one, else by ``/``, so an answer may itself
    contain a slash ("7/1；七月一日"). A backslash keeps a separator in an
    answer: ``a\\;b`` is the one answer "a;b".
    """
    return [_alternatives(blank) for blank in _split(text, "|｜")]


def stem_blank_count(stem: str) -> int:
    """How many blanks a fill-in stem marks ({{n}} markers, else ____/（ ）/runs of spaces)."""
    numbers = set(MARKER.findall(stem))
    return len(numbers) if numbers else len(BLANK_SPOT.findall(stem.strip()))


def fill_blanks(stem: str, text: str) -> list[list[str]]:
    """The blanks of an answer cell for ``stem``: as ``blanks_from_text``, and when the stem
    has several blanks but the answer no ``|``, the answers may be separated by ；, ; or 、."""
    blanks = blanks_from_text(text)
    count = stem_blank_count(stem)
    if len(blanks) == 1 and count >= 2:
        for separators in (";；", "、"):
            pieces = [piece for piece in _split(text, separators) if piece.strip()]
            if len(pieces) == count:
                return [_alternatives(piece) for piece in pieces]
    return blanks


def tags_from_text(text: str) -> list[str]:
    return [tag.strip() for tag in TAG_SPLIT.split(text or "") if tag.strip()]


def answer_text(question: ParsedQuestion) -> str:
    """The answer as the template writes it: letters, 正确/错误, or blanks with | and /."""
    if question.type == SINGLE:
        return LETTERS[question.answer["choice"]]
    if question.type == MULTIPLE:
        return "".join(LETTERS[i] for i in question.answer["choices"])
    if question.type == TRUE_FALSE:
        return "正确" if question.answer["value"] else "错误"
    return "|".join(_alternatives_text(blank) for blank in question.answer["blanks"])


def _escape(word: str, characters: str) -> str:
    return "".join("\\" + char if char in characters else char for char in word)


def _alternatives_text(blank: list[str]) -> str:
    if not any(SLASHES.search(word) for word in blank):
        return "/".join(_escape(word, "|｜/／;；\\") for word in blank)
    # an answer with a slash: semicolons separate, and a lone answer ends with one ("7/1；")
    words = [_escape(word, "|｜;；\\") for word in blank]
    return "；".join(words) + ("；" if len(blank) == 1 else "")


def points_text(points: float) -> str:
    return str(int(points)) if float(points).is_integer() else str(points)
