"""Demo content and commands: the index is rebuilt after the demo is seeded."""

from __future__ import annotations

import click

from lms.extensions import db
from lms.search.index import reindex_all


def seed_demo() -> list[str]:
    """Rebuild the search index over the demo content (some of it is written in bulk)."""
    count = reindex_all(db.session)
    return [f"search: {count} documents indexed"]


def register(group) -> None:
    @group.command("search-reindex")
    def search_reindex():
        """Rebuild the search index from courses, lessons, announcements and questions."""
        count = reindex_all(db.session)
        db.session.commit()
        click.echo(f"{count} documents indexed")
