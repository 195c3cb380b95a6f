"""An organisation's official name: as its register (ODS) spells it, beside the name people
read. Nullable: organisations recorded by hand have none.

Revision ID: 8f3b2d6e1a47
Revises: a41c7e5d9b20
Create Date: 2026-12-04 02:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8f3b2d6e1a47"
down_revision: str | None = "a41c7e5d9b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Adding a nullable column is a plain ALTER on both databases: batch mode does not copy
    # the table (nor drop its triggers) for it.
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("official_name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("official_name")
