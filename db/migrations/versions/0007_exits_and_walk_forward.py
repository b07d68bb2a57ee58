"""exits and walk-forward: the exit dimensions of a combination, the buy-back of a trade and of a position,
closes in the daily log, and the folds of a walk-forward calibration

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OLD_KEY = ["run_id", "put_delta", "dte_target"]
EXITS = ["take_profit", "stop_loss", "close_dte"]


def upgrade() -> None:
    # 0001 left the combination's unique key unnamed: PostgreSQL named it, SQLite did not (batch mode names it
    # by the convention below so that it can be dropped)
    found = sa.inspect(op.get_bind()).get_unique_constraints('combination_results')
    old = next(c["name"] for c in found if c["column_names"] == OLD_KEY) or "uq_combination_results_run_id"
    with op.batch_alter_table('combination_results', naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"}
                              ) as batch_op:
        batch_op.add_column(sa.Column('take_profit', sa.Float(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('stop_loss', sa.Float(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('close_dte', sa.Integer(), nullable=False, server_default='0'))
        batch_op.drop_constraint(old, type_='unique')
        batch_op.create_unique_constraint('uq_combination_results_combination', OLD_KEY + EXITS)
    with op.batch_alter_table('backtest_trades') as batch_op:
        batch_op.add_column(sa.Column('exit_reason', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('exit_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('exit_fill_cents', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('exit_source', sa.String(length=16), nullable=True))
    with op.batch_alter_table('positions') as batch_op:
        batch_op.add_column(sa.Column('exit_reason', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('exit_price_cents', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('exit_price_source', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('exit_fill_cents', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('exit_fill_source', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('exit_fees_cents', sa.Integer(), nullable=True))
    with op.batch_alter_table('daily_runs') as batch_op:
        batch_op.add_column(sa.Column('closed', sa.Integer(), nullable=False, server_default='0'))
    op.create_table('walk_forward_folds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('fold', sa.Integer(), nullable=False),
    sa.Column('train_start', sa.Date(), nullable=False),
    sa.Column('train_end', sa.Date(), nullable=False),
    sa.Column('test_start', sa.Date(), nullable=False),
    sa.Column('test_end', sa.Date(), nullable=False),
    sa.Column('strategy', sa.JSON(), nullable=True),
    sa.Column('in_sample', sa.JSON(), nullable=True),
    sa.Column('out_of_sample', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['calibration_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_walk_forward_folds_run_id'), 'walk_forward_folds', ['run_id'], unique=False)


def downgrade() -> None:
    raise NotImplementedError("0007 widens the combination's key: restore a backup to go back")
