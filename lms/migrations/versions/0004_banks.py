"""question tags: an indexed row per knowledge point of a question

Revision ID: 0004_banks
Revises: 0001_initial
Create Date: 2026-11-22 12:18:07.392338

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_banks'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('question_tags',
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_question_tags_question_id_questions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('question_id', 'tag', name=op.f('pk_question_tags'))
    )
    with op.batch_alter_table('question_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_question_tags_tag'), ['tag'], unique=False)

    # Mirror the tags of questions that exist already.
    questions = sa.table('questions', sa.column('id', sa.Integer()), sa.column('tags', sa.JSON()))
    question_tags = sa.table('question_tags', sa.column('question_id', sa.Integer()), sa.column('tag', sa.String()))
    connection = op.get_bind()
    rows = []
    for question_id, tags in connection.execute(sa.select(questions.c.id, questions.c.tags)):
        seen = set()
        for tag in tags or []:
            tag = str(tag).strip()[:100]
            if tag and tag not in seen:
                seen.add(tag)
                rows.append({'question_id': question_id, 'tag': tag})
    if rows:
        op.bulk_insert(question_tags, rows)


def downgrade():
    with op.batch_alter_table('question_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_question_tags_tag'))

    op.drop_table('question_tags')
