"""The schema is made only by migrations, and the migrations match the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from lms import create_app
from lms.db import render_migration_item
from lms.extensions import db
from lms.search.models import is_full_text_table


def _include_name(name, type_, parent_names):
    return not (type_ == "table" and is_full_text_table(name))


def test_migrations_build_a_schema_identical_to_the_models(tmp_path):
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'migrated.sqlite3'}"})
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True, "render_item": render_migration_item, "include_name": _include_name},
            )
            differences = compare_metadata(context, db.metadata)
    assert differences == [], f"models and migrations disagree; run `flask db migrate`: {differences}"
