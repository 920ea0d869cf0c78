"""Moodle GIFT: read questions from it and write a bank to it.

Read as Moodle reads it (https://docs.moodle.org/en/GIFT_format): questions are
separated by blank lines; ``//`` starts a comment line; ``::title::`` names a
question; ``\\~ \\= \\# \\{ \\} \\: \\\\`` are literal characters and ``\\n`` a line
break; ``[markdown]``/``[plain]``/``[moodle]`` before a text is dropped. A question
whose text begins with ``[html]`` is read as HTML (its options and feedback too, as
Moodle does): safe HTML is kept with its images (``data:`` URIs), see
``lms.exams.questions.question_html``; HTML with no formatting beyond paragraphs
becomes plain text.

- ``{=right ~wrong}``: single choice; ``{~%50%a ~%50%b ~%-100%c}`` (no ``=``):
  multiple choice, the options with a positive weight are the correct ones.
- ``{T}``, ``{TRUE}``, ``{F}``, ``{FALSE}``: true/false.
- ``{=answer =alias}``: fill-in with one blank (all answers of weight 100% or
  unweighted are accepted). Text after the braces makes it an embedded blank:
  ``党的宗旨是{=全心全意为人民服务}。`` becomes ``党的宗旨是{{1}}。``; a choice
  question written that way gets ``（ ）`` in its stem. Several ``{=...}`` blocks
  in one question are several blanks (our extension; Moodle reads only one).
- ``####text`` at the end of an answer block is the general feedback and
  ``#text`` after an answer the feedback of that answer: both are kept in the
  explanation (解析).
- ``$CATEGORY: $course$/top/党史`` adds its last part ("党史") as a knowledge
  point (tag) to the questions that follow, until the next category.
- ``// [tag:党史] [points:2] [difficulty:3]`` comment lines inside a question's
  block set its tags (Moodle's own convention), points and difficulty (ours).
- Matching (``->``), numerical (``{#...}``), essay (``{}``) and description (no
  braces) questions are skipped with a reason naming the question.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import nh3
from flask_babel import lazy_gettext as _l

from lms.errors import ValidationFailed
from lms.exams.questions import question_html
from lms.exams.questions.importers.common import (
    FILL,
    HTML_BLANK_SPOT,
    MARKER,
    MAX_QUESTIONS,
    MULTIPLE,
    SINGLE,
    TRUE_FALSE,
    ParsedItem,
    ParsedQuestion,
    ParseResult,
    Problem,
    adopt_html,
    finish_question,
    label_for,
    marker,
    points_text,
)
from lms.spreadsheets import decode_text

# Escaped characters become private-use placeholders while parsing, then come back.
_ESCAPABLE = "\\~=#{}:n>"
_PLACEHOLDER = {char: chr(0xE000 + i) for i, char in enumerate(_ESCAPABLE)}
_RESTORE = {v: ("\n" if k == "n" else k) for k, v in _PLACEHOLDER.items()}
_ESCAPE = re.compile(r"\\([\\~=#{}:n>])")
_PRIVATE = re.compile("[\ue000-\ue00f]")
_FORMAT = re.compile(r"^\s*\[(html|moodle|plain|markdown)\]", re.IGNORECASE)
_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d+)?)%")
_META = re.compile(r"\[(tag|points|difficulty|id|scoring|type|blank):([^\]]*)\]", re.IGNORECASE)
_FULL_WIDTH_MARKS = str.maketrans({"＝": "=", "～": "~", "＃": "#", "％": "%"})
_SUB = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")
_SUP = str.maketrans("0123456789+-=()n", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿ")
_TRUE_FALSE = {"T": True, "TRUE": True, "F": False, "FALSE": False}
CHOICE_BLANK = "（ ）"
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-f]+|[a-z]+\d*);", re.IGNORECASE)


def parse_gift(payload: bytes | str) -> ParseResult:
    """Parse GIFT text (bytes in UTF-8 with or without BOM, or GBK) into items."""
    text = decode_text(payload) if isinstance(payload, bytes) else payload
    text = _PRIVATE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    result = ParseResult("gift")
    category_tag = ""
    for line_number, lines in _blocks(text):
        comments = [line.strip()[2:] for line in lines if line.strip().startswith("//")]
        body = [(n, line) for n, line in enumerate(lines, start=line_number) if not line.strip().startswith("//")]
        if not body:
            continue
        first_line = body[0][0]
        source = _ESCAPE.sub(lambda m: _PLACEHOLDER[m.group(1)], "\n".join(line for _, line in body).strip())
        if source.startswith("$CATEGORY:"):
            category_line, _, source = source.partition("\n")
            category_tag = _category_tag(_restore(category_line[len("$CATEGORY:") :]))
            source = source.strip()
            if not source:
                continue
            first_line += 1  # a question right below the category line, in the same block
        item = _parse_question(source, first_line, comments, category_tag)
        result.items.append(item)
        if len(result.items) > MAX_QUESTIONS:
            raise ValidationFailed(_l("The file holds more than %(n)d questions.", n=MAX_QUESTIONS), "file")
    if not result.items:
        raise ValidationFailed(_l("The file holds no questions."), "file")
    return result


def _blocks(text: str) -> Iterable[tuple[int, list[str]]]:
    """(first line number, lines) of each run of non-blank lines."""
    start, lines = 0, []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            if not lines:
                start = number
            lines.append(line)
        elif lines:
            yield start, lines
            lines = []
    if lines:
        yield start, lines


def _restore(text: str) -> str:
    return "".join(_RESTORE.get(char, char) for char in text)


def _category_tag(path: str) -> str:
    parts = [part.strip() for part in path.split("/")]
    parts = [part for part in parts if part and not re.fullmatch(r"\$\w*\$", part) and part.casefold() != "top"]
    return parts[-1] if parts else ""


def _plain(text: str) -> str:
    """Drop a [format] prefix (HTML becomes text) and restore escaped characters."""
    text = text.strip()
    match = _FORMAT.match(text)
    kind = match.group(1).lower() if match else ""
    if match:
        text = text[match.end() :]
    if kind == "html":
        text = re.sub(r"(?is)<sub>(.*?)</sub>", lambda m: _script(m.group(1), _SUB), text)
        text = re.sub(r"(?is)<sup>(.*?)</sup>", lambda m: _script(m.group(1), _SUP), text)
        text = re.sub(
            r"(?i)<br\s*/?>|</p>\s*<p[^>]*>|</(?:li|tr|div|h\d|ul|ol|table)>|<(?:ul|ol|table)[^>]*>", "\n", text
        )
        text = re.sub(r"(?i)<li[^>]*>", "• ", text)
        text = re.sub(r"(?i)</t[dh]>", "\t", text)
        text = html.unescape(nh3.clean(text, tags=set()))
        text = "\n".join(line.strip() for line in text.split("\n") if line.strip())
    elif kind != "plain":
        text = html.unescape(text)  # Moodle shows these texts as HTML: &lt; is <
    return _restore(text).strip()


def _html_source(text: str) -> str:
    """A text of a question in HTML: its [format] prefix dropped and escapes restored, tags kept (cleaned later)."""
    text = text.strip()
    match = _FORMAT.match(text)
    return _restore(text[match.end() :] if match else text).strip()


def _script(text: str, table: dict) -> str:
    """H<sub>2</sub>O -> H₂O when every character has a Unicode sub/superscript, else H_2 / x^2."""
    plain = html.unescape(nh3.clean(text, tags=set()))
    mapped = plain.translate(table)
    if all(a != b for a, b in zip(plain, mapped, strict=True)):
        return mapped
    return ("_" if table is _SUB else "^") + plain


def _parse_question(source: str, line: int, comments: list[str], category_tag: str) -> ParsedItem:
    title = ""
    if source.startswith("::"):
        end = source.find("::", 2)
        if end < 0:
            return ParsedItem(
                line, label_for("", _restore(source)), problems=[Problem(_l("The title opened with :: is not closed."))]
            )
        title = _plain(source[2:end])
        source = source[end + 2 :].strip()
    label = label_for(title, _plain(re.sub(r"\{[^{}]*\}", " ", source)))
    item = ParsedItem(line, label)

    blocks, problem = _answer_blocks(source)
    if not problem and blocks:
        source, widened = _half_width_marks(source, blocks)
        if widened:
            item.notes.append(_l("Full-width answer marks (＝ ～ ＃ ％) were read as GIFT's = ~ # %."))
    if problem:
        item.problems.append(problem)
        return item
    if not blocks:
        item.problems.append(Problem(_l("A description (no answer in braces): not a question type of this platform.")))
        return item

    html_mode = bool(re.match(r"\s*\[html\]", source, re.IGNORECASE))
    text_of = _html_source if html_mode else _plain
    meta = _meta(comments)
    question = ParsedQuestion(type="", stem="", title=title)
    question.tags = meta["tags"] + ([category_tag] if category_tag else [])
    if meta["points"] is not None:
        question.points = meta["points"]
    if meta["difficulty"] is not None:
        question.difficulty = meta["difficulty"]
    for message in meta["problems"]:
        item.problems.append(Problem(message))

    feedback: list[str] = []
    if len(blocks) == 1:
        start, end = blocks[0]
        before, inside, after = source[:start], source[start + 1 : end], source[end + 1 :]
        inside, general = _split_general_feedback(inside)
        kind = _kind(inside)
        skip_reasons = {
            "essay": _l("An essay question ({}): not a question type of this platform."),
            "numerical": _l("A numerical question ({#…}): not a question type of this platform."),
            "matching": _l("A matching question (->): not a question type of this platform."),
        }
        if kind in skip_reasons:
            item.problems.append(Problem(skip_reasons[kind]))
            return item
        embedded = bool(after.strip())
        if kind == "choice":
            problem = _read_choices(inside, question, feedback, item, text_of)
            question.stem = text_of(before + (CHOICE_BLANK if embedded else "") + after)
        elif kind == TRUE_FALSE:
            _read_true_false(inside, question, feedback, text_of)
            question.stem = text_of(before + (CHOICE_BLANK if embedded else "") + after)
            problem = None
        else:
            blanks, problem = _read_short_answers(inside, feedback, item, text_of)
            question.type, question.answer = FILL, {"blanks": [blanks]}
            # ([blank:end]: our own export of a stem whose text has a （ ） of its own before the blank)
            if not embedded and meta["blank"] != "end" and len(HTML_BLANK_SPOT.findall(before)) == 1:
                # "…确立了（ ）的原则。{=…}": the answer goes in the blank the text marks, not after the text
                question.stem = text_of(HTML_BLANK_SPOT.sub("{{1}}", before))
                item.notes.append(
                    _l("The answer block ends the text, which marks its blank (____ or （ ）): the blank is there.")
                )
            else:
                question.stem = text_of(before + "{{1}}" + after)
        if problem:
            item.problems.append(problem)
            return item
        if meta["scoring"] == "all" and question.type == MULTIPLE:
            question.answer.pop("weights", None)  # our own export of an all-or-nothing question
        if meta["type"] == "indefinite" and question.type == MULTIPLE:
            question.answer["indefinite"] = True  # 不定项: one right option is enough
        general_feedback = [general]
    else:
        pieces, blanks, general_feedback = [], [], []
        cursor = 0
        for number, (start, end) in enumerate(blocks, start=1):
            inside, general = _split_general_feedback(source[start + 1 : end])
            general_feedback.append(general)
            if _kind(inside) != "short":
                item.problems.append(
                    Problem(_l("Several answer blocks in one question are only possible for fill-in blanks ({=…}).")),
                )
                return item
            accepted, problem = _read_short_answers(inside, feedback, item, text_of)
            if problem:
                item.problems.append(problem)
                return item
            blanks.append(accepted)
            pieces += [source[cursor:start], marker(number)]
            cursor = end + 1
        pieces.append(source[cursor:])
        question.type, question.answer = FILL, {"blanks": blanks}
        question.stem = text_of("".join(pieces))
    # a literal {{n}} typed in the text would be read as a blank: refuse it instead
    if question.type == FILL and len(MARKER.findall(question.stem)) != len(question.answer["blanks"]):
        item.problems.append(Problem(_l("The text contains “{{”; escape a literal brace as \\{.")))
        return item
    joiner = "<br>" if html_mode else "\n"
    question.explanation = joiner.join(text for text in [*map(text_of, general_feedback), *feedback] if text)
    if html_mode:
        adopt_html(question, item.notes)
    item.problems += finish_question(question)
    item.label = label_for(title, question.stem_text())
    if not item.problems:
        item.question = question
    return item


def _half_width_marks(source: str, blocks: list[tuple[int, int]]) -> tuple[str, bool]:
    """{＝北京 ～上海}: an answer block written with full-width marks and no GIFT mark is read as GIFT."""
    changed = False
    pieces, cursor = [], 0
    for start, end in blocks:
        inside = source[start + 1 : end]
        if not re.search(r"[=~]", inside) and re.match(r"\s*[＝～]", inside):
            inside = inside.translate(_FULL_WIDTH_MARKS)
            changed = True
        pieces += [source[cursor : start + 1], inside]
        cursor = end
    pieces.append(source[cursor:])
    return "".join(pieces), changed


def _answer_blocks(source: str) -> tuple[list[tuple[int, int]], Problem | None]:
    blocks: list[tuple[int, int]] = []
    opened = None
    for index, char in enumerate(source):
        if char == "{":
            if opened is not None:
                return [], Problem(_l("An answer block contains another {: unbalanced braces (write \\{ for a brace)."))
            opened = index
        elif char == "}":
            if opened is None:
                return [], Problem(_l("A } closes no answer block: unbalanced braces (write \\} for a brace)."))
            blocks.append((opened, index))
            opened = None
    if opened is not None:
        return [], Problem(_l("The answer block opened with { is never closed: unbalanced braces."))
    return blocks, None


def _split_general_feedback(inside: str) -> tuple[str, str]:
    position = inside.rfind("####")
    if position < 0:
        return inside.strip(), ""
    return inside[:position].strip(), inside[position + 4 :].strip()


def _kind(inside: str) -> str:
    """Moodle's order of tests: essay, numerical, choice (~), matching (= and ->), true/false, short answer."""
    if not inside:
        return "essay"
    if inside.startswith("#"):
        return "numerical"
    if "~" in inside:
        return "choice"
    if "=" in inside and "->" in inside:
        return "matching"
    if _plain(inside.split("#", 1)[0]).upper() in _TRUE_FALSE:
        return TRUE_FALSE
    return "short"


def _answers(inside: str, first_marker: str, text_of=_plain) -> list[tuple[str, str]]:
    """Split ``=a#fb ~b`` into (marker+text, feedback) pairs."""
    parts = re.split(r"(?=[~=])", inside)
    answers = []
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if part[0] not in "~=":
            part = first_marker + part
        text, _, feedback = part.partition("#")
        answers.append((text.strip(), text_of(feedback)))
    return answers


def _read_choices(
    inside: str, question: ParsedQuestion, feedback: list[str], item: ParsedItem, text_of=_plain
) -> Problem | None:
    single = "=" in inside
    options, weights = [], []
    for text, note in _answers(inside, "~", text_of):
        marker, text = text[0], text[1:].strip()
        weight = 100.0 if marker == "=" else 0.0
        match = _WEIGHT.match(text) if marker == "~" else None  # Moodle reads weights after ~ only
        if match:
            weight = float(match.group(1))
            text = text[match.end() :].strip()
        option = text_of(text)
        options.append(option)
        weights.append(weight)
        if note:
            feedback.append(f"{option}：{note}")
    question.options = options
    if single:
        correct = [i for i, weight in enumerate(weights) if weight >= 100]
        if len(correct) != 1:
            return Problem(_l("A single-choice question needs exactly one answer marked = (correct)."))
        partial = [options[i] for i, weight in enumerate(weights) if 0 < weight < 100]
        if partial:
            item.notes.append(_l("Partial credit for “%(options)s” was dropped.", options="”, “".join(partial)))
        question.type, question.answer = SINGLE, {"choice": correct[0]}
        return None
    correct = [i for i, weight in enumerate(weights) if weight > 0]
    if not correct:
        return Problem(_l("No option has a positive weight, so none is correct."))
    # no "=": a multiple-response question scored as in Moodle, by the chosen options' weights
    # (one right option with penalties stays multiple response: check boxes, not radio buttons)
    question.type, question.answer = MULTIPLE, {"choices": correct, "weights": weights}
    return None


def _read_true_false(inside: str, question: ParsedQuestion, feedback: list[str], text_of=_plain) -> None:
    word, *notes = inside.split("#", 2)
    question.type, question.answer = TRUE_FALSE, {"value": _TRUE_FALSE[_plain(word).upper()]}
    # {T#feedback for a wrong response#feedback for a right one}
    feedback += [text_of(note) for note in reversed(notes) if text_of(note)]


def _read_short_answers(
    inside: str, feedback: list[str], item: ParsedItem, text_of=_plain
) -> tuple[list[str], Problem | None]:
    accepted = []
    for text, note in _answers(inside, "=", text_of):
        if text[0] != "=":
            return [], Problem(_l("A fill-in answer must start with =."))
        text = text[1:].strip()
        match = _WEIGHT.match(text)
        weight = 100.0
        if match:
            weight = float(match.group(1))
            text = text[match.end() :].strip()
        answer = question_html.to_text(_html_source(text)) if text_of is _html_source else _plain(text)
        if weight >= 100:
            accepted.append(answer)
        else:
            item.notes.append(_l("The answer “%(answer)s” with a weight below 100%% is not accepted.", answer=answer))
        if note:
            shown = question_html.from_plain(answer) if text_of is _html_source else answer
            feedback.append(f"{shown}：{note}")
    if not accepted:
        return [], Problem(_l("A fill-in blank needs at least one fully correct answer (=answer)."))
    return accepted, None


def _meta(comments: list[str]) -> dict:
    meta: dict = {"tags": [], "points": None, "difficulty": None, "scoring": "", "type": "", "blank": "",
                  "problems": []}  # fmt: skip
    for comment in comments:
        for key, value in _META.findall(comment):
            key, value = key.lower(), value.strip()
            if key == "tag" and value:
                meta["tags"].append(value)
            elif key in ("scoring", "type", "blank"):
                meta[key] = value.casefold()
            elif key == "points":
                try:
                    meta["points"] = float(value)
                except ValueError:
                    meta["problems"].append(_l("“%(value)s” is not a number of points.", value=value))
            elif key == "difficulty":
                if value in {"1", "2", "3", "4", "5"}:
                    meta["difficulty"] = int(value)
                else:
                    meta["problems"].append(_l("Difficulty must be 1 (easy) to 5 (hard)."))
    return meta


# --- Writing ------------------------------------------------------------------------


def escape(text: str) -> str:
    """GIFT-escape a text: special characters get a backslash, line breaks become \\n."""
    text = re.sub(r"([\\~=#{}:])", r"\\\1", text.replace("\r\n", "\n"))
    # "->" would make a fill-in block read as matching: "-\>" keeps it an answer
    return text.replace("\n", "\\n").replace("->", "-\\>")


def _text(text: str, html_format: bool = False) -> str:
    if html_format:
        return "[html]" + escape(text)
    escaped = escape(text)
    # a text that would read as a [format] prefix or a comment gets an explicit [plain]
    literal = escaped.startswith(("[", "//")) or _ENTITY.search(text)
    return "[plain]" + escaped if literal else escaped


def _answer(text: str, weight: str = "", html_format: bool = False) -> str:
    """An option or accepted answer; a text that itself starts like a %weight% gets an explicit one."""
    if not weight and _WEIGHT.match(text):
        weight = "%0%"
    return weight + _option(text, html_format)


def _blank_answer(word: str, html_format: bool) -> str:
    """An accepted answer (plain text; in an HTML question escaped as HTML, as Moodle reads it)."""
    text = question_html.from_plain(word) if html_format else word
    return _answer(text, "%100%" if _WEIGHT.match(text) else "", html_format)


def _option(text: str, html_format: bool) -> str:
    """An option: an HTML question's options are HTML without a prefix (the stem's [html] covers them)."""
    return escape(text) if html_format else _text(text)


def _number(value: float) -> str:
    return f"{value:.5f}".rstrip("0").rstrip(".")


def write_gift(questions: Iterable[ParsedQuestion], bank_name: str = "") -> str:
    """The questions as GIFT text that ``parse_gift`` reads back to the same questions."""
    out = [
        f"// {bank_name}".rstrip(),
        "// Vanguard (先锋学堂) question bank in Moodle GIFT format.",
        "// Fill-in questions with several blanks have one {=…} block per blank (Moodle reads only the first).",
        "",
    ]
    for question in questions:
        if question.html:  # images travel inside the HTML, as data: URIs
            question = ParsedQuestion(**{**question.as_dict(), "images": question.images})
            question.stem = question_html.with_data_uris(question.stem, question.images)
            question.options = [question_html.with_data_uris(option, question.images) for option in question.options]
            question.explanation = question_html.with_data_uris(question.explanation, question.images)
        html_format = question.html
        meta = [f"[tag:{tag.replace(']', '］')}]" for tag in question.tags]
        meta += [f"[points:{points_text(question.points)}]", f"[difficulty:{question.difficulty}]"]
        if question.type == MULTIPLE and not question.answer.get("weights"):
            meta.append("[scoring:all]")  # all or nothing here; Moodle reads the weights below
        if question.type == MULTIPLE and question.answer.get("indefinite"):
            meta.append("[type:indefinite]")
        out.append("// " + " ".join(meta))
        head = f"::{escape(question.title)}::" if question.title else ""
        general = f"####{escape(question.explanation)}" if question.explanation else ""
        if question.type == FILL:
            blanks = question.answer["blanks"]
            parts = MARKER.split(question.stem)  # text, number, text, number, ..., text
            text = []
            for index, part in enumerate(parts):
                if index % 2 == 0:
                    text.append(_text(part, html_format) if index == 0 else escape(part))
                else:
                    block = " ".join("=" + _blank_answer(word, html_format) for word in blanks[int(part) - 1])
                    last = index == len(parts) - 2
                    text.append("{" + block + (general if last else "") + "}")
            if len(blanks) == 1 and parts[-1] == "" and len(HTML_BLANK_SPOT.findall(text[0])) == 1:
                # The text's own "（ ）" or "____" would be read as the blank: say that the block is the blank.
                out.append("// [blank:end]")
            out.append(head + "".join(text))
        elif question.type == TRUE_FALSE:
            out.append(
                head
                + _text(question.stem, html_format)
                + "{"
                + ("TRUE" if question.answer["value"] else "FALSE")
                + general
                + "}"
            )
        else:
            lines = [head + _text(question.stem, html_format) + "{"]
            if question.type == SINGLE:
                for i, option in enumerate(question.options):
                    correct = i == question.answer["choice"]
                    lines.append(
                        "\t=" + _option(option, html_format)
                        if correct
                        else "\t~" + _answer(option, html_format=html_format)
                    )
            elif question.answer.get("weights"):
                for option, weight in zip(question.options, question.answer["weights"], strict=True):
                    lines.append("\t~" + _answer(option, f"%{_number(weight)}%", html_format))
            else:
                correct = question.answer["choices"]
                share = _number(100 / len(correct))
                for i, option in enumerate(question.options):
                    lines.append("\t~" + _answer(option, f"%{share if i in correct else '-100'}%", html_format))
            if general:
                lines.append("\t" + general)
            lines.append("}")
            out += lines
        out.append("")
    return "\n".join(out)
