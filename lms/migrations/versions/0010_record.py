"""record: when each stored assessment result was computed (a member refreshed on their record page)

Revision ID: 0010_record
Revises: 0013_meetings
Create Date: 2026-12-02 01:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_record'
down_revision = '0013_meetings'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assessment_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('computed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('assessment_results', schema=None) as batch_op:
        batch_op.drop_column('computed_at')
