"""market updates from the free daily files, settlement values given by hand, the source of each settlement

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('market_updates',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('spx_close_cents', sa.Integer(), nullable=False),
    sa.Column('vix', sa.Float(), nullable=False),
    sa.Column('vix3m', sa.Float(), nullable=True),
    sa.Column('rate', sa.Float(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )
    op.create_table('settlement_values',
    sa.Column('expiry', sa.Date(), nullable=False),
    sa.Column('value_cents', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('expiry')
    )
    with op.batch_alter_table('positions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settlement_source', sa.String(length=16), nullable=True))
    op.execute("update positions set settlement_source = 'real' where status = 'closed'")
    with op.batch_alter_table('backtest_trades', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settlement_source', sa.String(length=16), nullable=True))
    op.execute("update backtest_trades set settlement_source = 'real' where settlement_cents is not null")


def downgrade() -> None:
    with op.batch_alter_table('backtest_trades', schema=None) as batch_op:
        batch_op.drop_column('settlement_source')
    with op.batch_alter_table('positions', schema=None) as batch_op:
        batch_op.drop_column('settlement_source')
    op.drop_table('settlement_values')
    op.drop_table('market_updates')
