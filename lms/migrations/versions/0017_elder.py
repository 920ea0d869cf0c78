"""elder: large-text mode on the account; the search index (FTS5 trigram + bigram on SQLite, pg_trgm on PostgreSQL)

Revision ID: 0017_elder
Revises: 0016_meetfix
Create Date: 2026-12-10 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from lms.search.models import create_full_text, drop_full_text


# revision identifiers, used by Alembic.
revision = '0017_elder'
down_revision = "0016_meetfix"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('large_text', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        'search_documents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('object_id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('grams', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_search_documents')),
        sa.UniqueConstraint('kind', 'object_id', name=op.f('uq_search_documents_kind_object_id')),
    )
    create_full_text(op.get_bind())
    # Existing content is indexed by `flask lms search-reindex` (the app keeps it up to date from then on).


def downgrade():
    drop_full_text(op.get_bind())
    op.drop_table('search_documents')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('large_text')
