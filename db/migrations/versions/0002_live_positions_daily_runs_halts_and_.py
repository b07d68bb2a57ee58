"""live positions, daily runs, halts and locks

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('halts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cleared_by', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    locks = op.create_table('locks',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )
    op.bulk_insert(locks, [{"name": "trade", "acquired_at": None}])
    op.create_table('positions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('parameters_id', sa.Integer(), nullable=False),
    sa.Column('ticker', sa.String(length=32), nullable=False),
    sa.Column('root', sa.String(length=8), nullable=False),
    sa.Column('expiry', sa.Date(), nullable=False),
    sa.Column('strike_cents', sa.Integer(), nullable=False),
    sa.Column('contracts', sa.Integer(), nullable=False),
    sa.Column('price_cents', sa.Integer(), nullable=False),
    sa.Column('price_source', sa.String(length=16), nullable=False),
    sa.Column('fill_cents', sa.Integer(), nullable=False),
    sa.Column('fill_source', sa.String(length=16), nullable=False),
    sa.Column('fees_cents', sa.Integer(), nullable=False),
    sa.Column('premium_cents', sa.Integer(), nullable=False),
    sa.Column('entry_delta', sa.Float(), nullable=False),
    sa.Column('entry_iv', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('settled_on', sa.Date(), nullable=True),
    sa.Column('settlement_cents', sa.Integer(), nullable=True),
    sa.Column('pnl_cents', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['parameters_id'], ['wheel_parameters.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('positions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_positions_expiry'), ['expiry'], unique=False)
        batch_op.create_index(batch_op.f('ix_positions_opened_on'), ['opened_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_positions_status'), ['status'], unique=False)

    op.create_table('daily_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('settled', sa.Integer(), nullable=False),
    sa.Column('position_id', sa.Integer(), nullable=True),
    sa.Column('parameters_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['parameters_id'], ['wheel_parameters.id'], ),
    sa.ForeignKeyConstraint(['position_id'], ['positions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('as_of')
    )


def downgrade() -> None:
    op.drop_table('daily_runs')
    with op.batch_alter_table('positions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_positions_status'))
        batch_op.drop_index(batch_op.f('ix_positions_opened_on'))
        batch_op.drop_index(batch_op.f('ix_positions_expiry'))

    op.drop_table('positions')
    op.drop_table('locks')
    op.drop_table('halts')
