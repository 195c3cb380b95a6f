"""External IDs on assets and activities: the key a spreadsheet row carries, unique within its
organisation, so that importing the same sheet again updates the rows it made.

Revision ID: 7c2f4e8a1b6d
Revises: 7c2e4f9a1b36
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c2f4e8a1b6d"
down_revision: str | None = "7c2e4f9a1b36"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("asset", "activity")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("external_id", sa.String(length=100), nullable=True))
            batch_op.create_index(
                op.f(f"ix_{table}_organisation_id_external_id"),
                ["organisation_id", "external_id"],
                unique=True,
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(op.f(f"ix_{table}_organisation_id_external_id"))
            batch_op.drop_column("external_id")
