"""Searching the index: substring match for Chinese, ranked, and limited to what the reader may open."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from lms.extensions import db
from lms.search.models import SearchDocument, has_trigram_extension

MAX_QUERY = 100
MAX_TERMS = 6
CANDIDATES = 200
# Kinds in the order a reader most often means them when titles match equally well.
KIND_ORDER = ("course", "lesson", "article", "announcement", "question")


@dataclass(frozen=True)
class Hit:
    kind: str
    object_id: int
    title: str
    snippet: str


def terms_of(text: str) -> list[str]:
    """The words of a query: split on spaces and punctuation, case-folded, at most ``MAX_TERMS``."""
    words = [w for w in re.split(r"[\s\W_]+", (text or "")[:MAX_QUERY].casefold()) if w]
    return list(dict.fromkeys(words))[:MAX_TERMS]


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def candidates(text: str, limit: int = CANDIDATES) -> list[SearchDocument]:
    """Index rows matching every word of ``text``, best first (words in the title, then by relevance).

    SQLite: words of three or more characters go through the trigram FTS5 table, two-character
    words through the bigram table, one-character words (rare) through a LIKE over the rows the
    other words left, or a scan bounded by ``limit`` when the query has nothing else.
    PostgreSQL: ILIKE on title and body (pg_trgm indexes serve it), ranked by trigram similarity.
    """
    terms = terms_of(text)
    if not terms:
        return []
    doc = SearchDocument.__table__
    connection = db.session.connection()
    dialect = connection.dialect.name
    conditions = []
    title_hits = sum(
        (sa.case((doc.c.title.ilike(_like(term), escape="\\"), 1), else_=0) for term in terms), sa.literal(0)
    )
    order = [title_hits.desc()]
    if dialect == "sqlite":
        long_terms = [t for t in terms if len(t) >= 3]
        pairs = [t for t in terms if len(t) == 2]
        singles = [t for t in terms if len(t) == 1]
        if long_terms:
            fts = sa.table("search_fts", sa.column("rowid"))
            conditions.append(doc.c.id.in_(sa.select(fts.c.rowid).where(sa.text("search_fts MATCH :fts_query"))))
            rank = sa.select(sa.text("bm25(search_fts, 10.0, 1.0)")).select_from(fts).where(
                sa.text("search_fts MATCH :fts_query"), fts.c.rowid == doc.c.id
            ).scalar_subquery()
            order.append(rank.asc())
        if pairs:
            grams = sa.table("search_grams", sa.column("rowid"))
            conditions.append(
                doc.c.id.in_(sa.select(grams.c.rowid).where(sa.text("search_grams MATCH :gram_query")))
            )
        for term in singles:
            pattern = _like(term)
            conditions.append(sa.or_(doc.c.title.like(pattern, escape="\\"), doc.c.body.like(pattern, escape="\\")))
        params = {}
        if long_terms:
            params["fts_query"] = " ".join(_fts_phrase(t) for t in long_terms)
        if pairs:
            params["gram_query"] = " ".join(_fts_phrase(t) for t in pairs)
    else:
        params = {}
        for term in terms:
            conditions.append(
                sa.or_(doc.c.title.ilike(_like(term), escape="\\"), doc.c.body.ilike(_like(term), escape="\\"))
            )
        if has_trigram_extension(connection):
            order.append(sa.func.similarity(doc.c.title, " ".join(terms)).desc())
    kind_rank = sa.case({kind: index for index, kind in enumerate(KIND_ORDER)}, value=doc.c.kind, else_=len(KIND_ORDER))
    order += [kind_rank, doc.c.updated_at.desc(), doc.c.id.desc()]
    statement = sa.select(SearchDocument).where(*conditions).order_by(*order).limit(limit)
    return list(db.session.scalars(statement, params))


def snippet(body: str, terms: list[str], width: int = 60) -> str:
    """A short piece of ``body`` around the first word found (the whole start when none is)."""
    folded = body.casefold()
    positions = [folded.find(term) for term in terms if folded.find(term) >= 0]
    start = max(0, min(positions) - width // 3) if positions else 0
    piece = " ".join(body[start : start + width].split())
    return ("…" if start else "") + piece + ("…" if start + width < len(body) else "")
