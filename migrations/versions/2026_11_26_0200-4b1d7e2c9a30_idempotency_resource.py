"""Idempotency records name the resource they created, so a replay can tell it was deleted

Revision ID: 4b1d7e2c9a30
Revises: ccd5b4bc17ec
Create Date: 2026-11-26 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4b1d7e2c9a30"
down_revision: str | None = "ccd5b4bc17ec"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resource_table", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("resource_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_column("resource_id")
        batch_op.drop_column("resource_table")
