"""outbox: e-mail is queued in outgoing_mails and sent by the mail-outbox job

Revision ID: 0018_outbox
Revises: 0017_elder
Create Date: 2026-12-02 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_outbox'
down_revision = "0017_elder"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'outgoing_mails',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recipient', sa.String(length=254), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('send_after', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('claimed_by', sa.String(length=64), nullable=True),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_mails')),
    )
    op.create_index('ix_outgoing_mails_pending', 'outgoing_mails', ['sent_at', 'failed_at', 'send_after'], unique=False)


def downgrade():
    op.drop_index('ix_outgoing_mails_pending', table_name='outgoing_mails')
    op.drop_table('outgoing_mails')
