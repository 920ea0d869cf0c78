"""The question snapshots an attempt freezes (DESIGN.md §4): one per question content, shared by attempts.

A start reads its questions' rows (``QUESTION_COLUMNS``), hashes each one's content and looks
up the snapshots of those contents (``existing_snapshots``); ``snapshots_for`` makes the
missing ones. Snapshots are never changed: an edited question gets a new one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import sqlalchemy as sa

from lms.exams.questions.models import Question
from lms.exams.quizzes.models import QuestionSnapshot
from lms.extensions import db


def content_hash(question: Question) -> str:
    content = {
        "type": str(question.type),
        "stem": question.stem,
        "options": question.options or [],
        "answer": question.answer,
        "explanation": question.explanation or "",
        "tags": question.tags or [],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# The columns a start reads: questions as rows (no ORM objects), snapshots' ids only.
QUESTION_COLUMNS = (
    Question.id, Question.type, Question.stem, Question.options, Question.answer,
    Question.explanation, Question.tags, Question.version,
)  # fmt: skip
_SNAPSHOT_IDS = sa.select(QuestionSnapshot.question_id, QuestionSnapshot.content_hash, QuestionSnapshot.id).where(
    QuestionSnapshot.question_id.in_(sa.bindparam("b_questions", expanding=True)),
    QuestionSnapshot.content_hash.in_(sa.bindparam("b_hashes", expanding=True)),
)


def existing_snapshots(questions: Sequence) -> tuple[dict[int, str], dict[tuple[int, str], int]]:
    """Each question's content hash, and the ids of the snapshots of those contents that exist already."""
    hashes = {question.id: content_hash(question) for question in questions}
    rows = db.session.connection().execute(
        _SNAPSHOT_IDS, {"b_questions": list(hashes), "b_hashes": sorted(set(hashes.values()))}
    )
    return hashes, {(question_id, digest): id_ for question_id, digest, id_ in rows}


def snapshots_for(
    questions: Sequence, hashes: dict[int, str], existing: dict[tuple[int, str], int]
) -> dict[int, int | QuestionSnapshot]:
    """The snapshot id of each question's current content; a new (pending) snapshot where missing."""
    result: dict[int, int | QuestionSnapshot] = {}
    for question in questions:
        snapshot = existing.get((question.id, hashes[question.id]))
        if snapshot is None:
            snapshot = QuestionSnapshot(
                question_id=question.id,
                question_version=question.version or 1,
                content_hash=hashes[question.id],
                type=question.type,
                stem=question.stem,
                options=list(question.options or []),
                answer=dict(question.answer or {}),
                explanation=question.explanation or "",
                tags=list(question.tags or []),
            )
            db.session.add(snapshot)
        result[question.id] = snapshot
    return result
