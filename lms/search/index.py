"""Keeping the search index in step with the content, in the same transaction as each write.

``install()`` registers one ``after_flush`` listener on the session: every course,
lesson, announcement or question that a flush inserted, changed or deleted has its
``SearchDocument`` rewritten (or removed) on the same connection, so whichever
service wrote the content, the index commits or rolls back with it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lms import clock
from lms.richtext import plain_text as _plain_html
from lms.search.models import SearchDocument

MAX_BODY = 20000


def plain_text(html_text: str) -> str:
    return html.unescape(_plain_html(html_text))
_RUN = re.compile(r"\w+")


@dataclass(frozen=True)
class Entry:
    kind: str
    title: str
    body: str


def bigrams(text: str) -> str:
    """Every pair of adjacent characters of each word, case-folded: "初心使命" -> "初心 心使 使命".

    A one-character word is kept as it is. FTS5 (unicode61) indexes these as tokens,
    so a two-character query is a token lookup rather than a scan.
    """
    grams: list[str] = []
    for run in _RUN.findall(text.casefold()):
        if len(run) == 1:
            grams.append(run)
        grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return " ".join(dict.fromkeys(grams))


def _course(course) -> Entry:
    tags = " ".join(str(tag) for tag in course.tags or [])
    parts = [course.category or "", tags, plain_text(course.summary_html or "")]
    return Entry("course", course.title, "\n".join(p for p in parts if p))


def _lesson(lesson) -> Entry:
    kind = "article" if str(lesson.kind) == "article" else "lesson"
    course = lesson.course
    parts = [lesson.summary or "", plain_text(lesson.body_html or "")]
    if course is not None:
        parts.append(f"{course.title} {course.category or ''}")
    return Entry(kind, lesson.title, "\n".join(p for p in parts if p))


def _announcement(item) -> Entry:
    return Entry("announcement", item.title, plain_text(item.body_html or ""))


def _option_text(option) -> str:
    """An option's words: an option of a question written in HTML is indexed without its tags."""
    if isinstance(option, dict):
        option = option.get("text") or option.get("label") or ""
    return plain_text(str(option))


def _question(question) -> Entry:
    options = " ".join(_option_text(option) for option in question.options or [])
    tags = " ".join(str(tag) for tag in question.tags or [])
    title = question.title or plain_text(question.stem or "")[:120]
    return Entry("question", title, f"{plain_text(question.stem or '')}\n{options}\n{tags}")


# By table name, so that the index does not depend on where each domain keeps its models.
EXTRACTORS: dict[str, Callable[[object], Entry]] = {
    "courses": _course,
    "lessons": _lesson,
    "announcements": _announcement,
    "questions": _question,
}
KINDS_OF_TABLE = {"courses": ("course",), "lessons": ("lesson", "article"), "announcements": ("announcement",),
                  "questions": ("question",)}


def _table(obj) -> str | None:
    return getattr(obj, "__tablename__", None)


def write_entry(connection, table: str, object_id: int, entry: Entry | None, now) -> None:
    """Replace the index row(s) of one object (``entry`` None removes them)."""
    documents = SearchDocument.__table__
    connection.execute(
        documents.delete().where(documents.c.kind.in_(KINDS_OF_TABLE[table]), documents.c.object_id == object_id)
    )
    if entry is None:
        return
    body = entry.body[:MAX_BODY]
    connection.execute(
        documents.insert().values(
            kind=entry.kind, object_id=object_id, title=entry.title[:300], body=body,
            grams=bigrams(f"{entry.title}\n{body}"), updated_at=now,
        )
    )


def _after_flush(session: Session, flush_context) -> None:
    changed: dict[tuple[str, int], object | None] = {}
    for obj in list(session.new) + list(session.dirty):
        table = _table(obj)
        if table in EXTRACTORS and getattr(obj, "id", None) is not None:
            if obj in session.dirty and not session.is_modified(obj, include_collections=False):
                continue
            changed[(table, obj.id)] = obj
            if table == "courses":  # lessons carry their course's title and category
                for lesson in obj.__dict__.get("lessons") or []:
                    changed[("lessons", lesson.id)] = lesson
    for obj in session.deleted:
        table = _table(obj)
        if table in EXTRACTORS and getattr(obj, "id", None) is not None:
            changed[(table, obj.id)] = None
    if not changed:
        return
    connection = session.connection()
    now = clock.utcnow()
    for (table, object_id), obj in changed.items():
        write_entry(connection, table, object_id, EXTRACTORS[table](obj) if obj is not None else None, now)


def install(session_class) -> None:
    """Listen to every flush of ``session_class`` (idempotent)."""
    if not sa.event.contains(session_class, "after_flush", _after_flush):
        sa.event.listen(session_class, "after_flush", _after_flush)


def reindex_all(session: Session) -> int:
    """Rebuild the whole index from the content tables (``flask lms search-reindex``); returns the rows."""
    from lms.models import db  # noqa: F401 (all models imported so the mapper registry knows them)

    connection = session.connection()
    connection.execute(SearchDocument.__table__.delete())
    now = clock.utcnow()
    count = 0
    registry = {mapper.class_.__tablename__: mapper.class_ for mapper in SearchDocument.registry.mappers
                if hasattr(mapper.class_, "__tablename__")}
    for table, extract in EXTRACTORS.items():
        model = registry.get(table)
        if model is None:
            continue
        for obj in session.scalars(sa.select(model)):
            write_entry(connection, table, obj.id, extract(obj), now)
            count += 1
    return count
