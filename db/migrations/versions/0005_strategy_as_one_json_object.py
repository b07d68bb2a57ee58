"""wheel_parameters: the strategy's knobs as one JSON object, declared once by StrategyParams

Revision ID: 0005
Revises: 0004
"""

import json

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

KNOBS = ["put_delta", "dte_target", "strike_rule", "expiries", "margin", "capital_cents", "contracts_per_trade",
         "max_open_positions", "max_margin_pct", "min_vix", "max_vix", "slippage", "fee_cents"]


def upgrade() -> None:
    with op.batch_alter_table('wheel_parameters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('strategy', sa.JSON(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.text(f"select id, {', '.join(KNOBS)} from wheel_parameters")).mappings().all()
    for row in rows:
        strategy = {k: row[k] for k in KNOBS if not k.endswith("_cents")}
        strategy.update(capital=row["capital_cents"] / 100, fee=row["fee_cents"] / 100)
        connection.execute(sa.text("update wheel_parameters set strategy = :s where id = :i"),
                           {"s": json.dumps(strategy), "i": row["id"]})
    with op.batch_alter_table('wheel_parameters', schema=None) as batch_op:
        batch_op.alter_column('strategy', existing_type=sa.JSON(), nullable=False)
        for name in KNOBS:
            batch_op.drop_column(name)


def downgrade() -> None:
    raise NotImplementedError("0005 keeps no copy of the old columns: restore a backup to go back")
