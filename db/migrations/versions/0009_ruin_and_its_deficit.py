"""ruin and its deficit: the day a combination's equity reached zero and what the account owed then; and the most
notional it carried (a share of equity), which the live account is held to

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('combination_results') as batch_op:
        batch_op.add_column(sa.Column('ruined', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('deficit_cents', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('peak_exposure', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('combination_results') as batch_op:
        batch_op.drop_column('peak_exposure')
        batch_op.drop_column('deficit_cents')
        batch_op.drop_column('ruined')
