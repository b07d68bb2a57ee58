"""calibration runs, results, backtest trades and parameter sets

Revision ID: 0001
Revises: 
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calibration_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('calibration_date', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('window_start', sa.Date(), nullable=False),
    sa.Column('window_end', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('objective', sa.String(length=16), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('combination_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('put_delta', sa.Float(), nullable=False),
    sa.Column('dte_target', sa.Integer(), nullable=False),
    sa.Column('trades', sa.Integer(), nullable=False),
    sa.Column('wins', sa.Integer(), nullable=False),
    sa.Column('win_rate', sa.Float(), nullable=True),
    sa.Column('total_return', sa.Float(), nullable=False),
    sa.Column('cagr', sa.Float(), nullable=True),
    sa.Column('max_drawdown', sa.Float(), nullable=False),
    sa.Column('sharpe', sa.Float(), nullable=True),
    sa.Column('sortino', sa.Float(), nullable=True),
    sa.Column('calmar', sa.Float(), nullable=True),
    sa.Column('real', sa.Integer(), nullable=False),
    sa.Column('estimated', sa.Integer(), nullable=False),
    sa.Column('best', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['calibration_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'put_delta', 'dte_target')
    )
    with op.batch_alter_table('combination_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_combination_results_run_id'), ['run_id'], unique=False)

    op.create_table('backtest_trades',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('result_id', sa.Integer(), nullable=False),
    sa.Column('ticker', sa.String(length=32), nullable=False),
    sa.Column('root', sa.String(length=8), nullable=False),
    sa.Column('entry_date', sa.Date(), nullable=False),
    sa.Column('expiry', sa.Date(), nullable=False),
    sa.Column('strike_cents', sa.Integer(), nullable=False),
    sa.Column('contracts', sa.Integer(), nullable=False),
    sa.Column('entry_price_cents', sa.Integer(), nullable=False),
    sa.Column('fill_cents', sa.Integer(), nullable=False),
    sa.Column('premium_cents', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('entry_delta', sa.Float(), nullable=False),
    sa.Column('settlement_cents', sa.Integer(), nullable=True),
    sa.Column('pnl_cents', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['result_id'], ['combination_results.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('backtest_trades', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backtest_trades_result_id'), ['result_id'], unique=False)

    op.create_table('wheel_parameters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('calibration_date', sa.Date(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('result_id', sa.Integer(), nullable=False),
    sa.Column('put_delta', sa.Float(), nullable=False),
    sa.Column('dte_target', sa.Integer(), nullable=False),
    sa.Column('strike_rule', sa.String(length=16), nullable=False),
    sa.Column('expiries', sa.String(length=16), nullable=False),
    sa.Column('margin', sa.String(length=16), nullable=False),
    sa.Column('capital_cents', sa.Integer(), nullable=False),
    sa.Column('contracts_per_trade', sa.Integer(), nullable=False),
    sa.Column('max_open_positions', sa.Integer(), nullable=False),
    sa.Column('max_margin_pct', sa.Float(), nullable=False),
    sa.Column('min_vix', sa.Float(), nullable=False),
    sa.Column('max_vix', sa.Float(), nullable=False),
    sa.Column('slippage', sa.Float(), nullable=False),
    sa.Column('fee_cents', sa.Integer(), nullable=False),
    sa.Column('backtest_trades', sa.Integer(), nullable=False),
    sa.Column('backtest_win_rate', sa.Float(), nullable=True),
    sa.Column('backtest_total_return', sa.Float(), nullable=False),
    sa.Column('backtest_max_drawdown', sa.Float(), nullable=False),
    sa.Column('backtest_sharpe', sa.Float(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('window_start', sa.Date(), nullable=False),
    sa.Column('window_end', sa.Date(), nullable=False),
    sa.Column('objective', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['result_id'], ['combination_results.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['calibration_runs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('wheel_parameters')
    with op.batch_alter_table('backtest_trades', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_backtest_trades_result_id'))

    op.drop_table('backtest_trades')
    with op.batch_alter_table('combination_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_combination_results_run_id'))

    op.drop_table('combination_results')
    op.drop_table('calibration_runs')
