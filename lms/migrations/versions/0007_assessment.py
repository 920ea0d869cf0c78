"""assessment: learning targets, runs, results and reminders

Revision ID: 0007_assessment
Revises: 0003_courses
Create Date: 2026-11-22 12:31:04.877935

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_assessment'
down_revision = '0003_courses'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('learning_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('system_key', sa.String(length=40), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('leader_rule', sa.Enum('any', 'only', 'exclude', name='leaderrule', native_enum=False, length=20), nullable=False),
    sa.Column('period_kind', sa.Enum('year', 'quarter', 'dates', 'probation', name='periodkind', native_enum=False, length=20), nullable=False),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('quarter', sa.Integer(), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('required_hours', sa.Double(), nullable=True),
    sa.Column('offline_cap_hours', sa.Double(), nullable=True),
    sa.Column('weight_hours', sa.Double(), nullable=False),
    sa.Column('weight_courses', sa.Double(), nullable=False),
    sa.Column('weight_quizzes', sa.Double(), nullable=False),
    sa.Column('excellent_min', sa.Double(), nullable=False),
    sa.Column('good_min', sa.Double(), nullable=False),
    sa.Column('pass_min', sa.Double(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('audience_statuses', sa.JSON(), nullable=False),
    sa.Column('audience_roles', sa.JSON(), nullable=False),
    sa.Column('audience_branch_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_learning_targets_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_learning_targets')),
    sa.UniqueConstraint('system_key', name=op.f('uq_learning_targets_system_key'))
    )
    with op.batch_alter_table('learning_targets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_learning_targets_is_active'), ['is_active'], unique=False)

    op.create_table('learning_target_courses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('due_days', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['target_id'], ['learning_targets.id'], name=op.f('fk_learning_target_courses_target_id_learning_targets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_learning_target_courses')),
    sa.UniqueConstraint('target_id', 'course_id', name=op.f('uq_learning_target_courses_target_id_course_id'))
    )
    with op.batch_alter_table('learning_target_courses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_learning_target_courses_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_learning_target_courses_target_id'), ['target_id'], unique=False)

    op.create_table('learning_target_quizzes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('quiz_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('pass_percent', sa.Double(), nullable=True),
    sa.Column('due_days', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['target_id'], ['learning_targets.id'], name=op.f('fk_learning_target_quizzes_target_id_learning_targets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_learning_target_quizzes')),
    sa.UniqueConstraint('target_id', 'quiz_id', name=op.f('uq_learning_target_quizzes_target_id_quiz_id'))
    )
    with op.batch_alter_table('learning_target_quizzes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_learning_target_quizzes_quiz_id'), ['quiz_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_learning_target_quizzes_target_id'), ['target_id'], unique=False)

    op.create_table('assessment_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.Column('target_name', sa.String(length=120), nullable=False),
    sa.Column('period_key', sa.String(length=30), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('trigger', sa.Enum('nightly', 'on_demand', name='runtrigger', native_enum=False, length=20), nullable=False),
    sa.Column('is_final', sa.Boolean(), nullable=False),
    sa.Column('member_count', sa.Integer(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('monthly_seconds', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['target_id'], ['learning_targets.id'], name=op.f('fk_assessment_runs_target_id_learning_targets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_runs'))
    )
    with op.batch_alter_table('assessment_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_runs_target_id'), ['target_id'], unique=False)
        batch_op.create_index('ix_assessment_runs_target_period', ['target_id', 'period_key', 'computed_at'], unique=False)

    op.create_table('assessment_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('member_name', sa.String(length=80), nullable=False),
    sa.Column('member_status', sa.String(length=20), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('branch_name', sa.String(length=120), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('online_hours', sa.Double(), nullable=False),
    sa.Column('offline_hours', sa.Double(), nullable=False),
    sa.Column('hours', sa.Double(), nullable=False),
    sa.Column('required_hours', sa.Double(), nullable=True),
    sa.Column('expected_hours', sa.Double(), nullable=False),
    sa.Column('courses_done', sa.Integer(), nullable=False),
    sa.Column('courses_required', sa.Integer(), nullable=False),
    sa.Column('quizzes_passed', sa.Integer(), nullable=False),
    sa.Column('quizzes_required', sa.Integer(), nullable=False),
    sa.Column('score', sa.Double(), nullable=True),
    sa.Column('grade', sa.String(length=12), nullable=True),
    sa.Column('pace', sa.String(length=12), nullable=False),
    sa.Column('behind', sa.Boolean(), nullable=False),
    sa.Column('at_risk', sa.Boolean(), nullable=False),
    sa.Column('due_soon', sa.Integer(), nullable=False),
    sa.Column('overdue', sa.Integer(), nullable=False),
    sa.Column('participated', sa.Boolean(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_assessment_results_branch_id_branches'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['assessment_runs.id'], name=op.f('fk_assessment_results_run_id_assessment_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_assessment_results_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_results')),
    sa.UniqueConstraint('run_id', 'user_id', name=op.f('uq_assessment_results_run_id_user_id'))
    )
    with op.batch_alter_table('assessment_results', schema=None) as batch_op:
        batch_op.create_index('ix_assessment_results_run_id_branch_id', ['run_id', 'branch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assessment_results_user_id'), ['user_id'], unique=False)

    op.create_table('assessment_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('iso_week', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.Enum('reminder', 'digest', name='reminderkind', native_enum=False, length=20), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('emailed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_assessment_reminders_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_reminders')),
    sa.UniqueConstraint('user_id', 'iso_week', 'kind', name=op.f('uq_assessment_reminders_user_id_iso_week_kind'))
    )


def downgrade():
    op.drop_table('assessment_reminders')
    op.drop_table('assessment_results')
    op.drop_table('assessment_runs')
    op.drop_table('learning_target_quizzes')
    op.drop_table('learning_target_courses')
    op.drop_table('learning_targets')
