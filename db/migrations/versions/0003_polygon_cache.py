"""polygon cache

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('polygon_bars',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticker', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('open_cents', sa.Integer(), nullable=False),
    sa.Column('close_cents', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ticker', 'day')
    )
    with op.batch_alter_table('polygon_bars', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_polygon_bars_ticker'), ['ticker'], unique=False)

    op.create_table('polygon_coverage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticker', sa.String(length=32), nullable=False),
    sa.Column('start', sa.Date(), nullable=False),
    sa.Column('end', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('polygon_coverage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_polygon_coverage_ticker'), ['ticker'], unique=False)

    op.create_table('polygon_listings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('key', sa.String(length=16), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'as_of', 'key')
    )


def downgrade() -> None:
    op.drop_table('polygon_listings')
    with op.batch_alter_table('polygon_coverage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_polygon_coverage_ticker'))

    op.drop_table('polygon_coverage')
    with op.batch_alter_table('polygon_bars', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_polygon_bars_ticker'))

    op.drop_table('polygon_bars')
