"""branch board score per member; notification text in the reader's language

Revision ID: 0011_examfix
Revises: 0009_audit
Create Date: 2026-12-02 01:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0011_examfix"
down_revision = "0009_audit"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contest_branch_standings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_mean", sa.Double(), server_default="0", nullable=False))
    # Boards frozen before: the score per member follows from what they stored (their ranks stay).
    op.execute(
        "UPDATE contest_branch_standings SET member_mean = ROUND(CAST(mean_score * participants / eligible AS NUMERIC), 2) "
        "WHERE eligible > 0"
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("message")
    with op.batch_alter_table("contest_branch_standings", schema=None) as batch_op:
        batch_op.drop_column("member_mean")
