"""Assets in (created_at, id) order across every organisation, for the global list

A global caller's ``GET /v1/assets`` pages every asset oldest first; without this index each
page sorted the whole table (300,000 rows at national scale).

Revision ID: 5e8b1d3c7a92
Revises: c4a7f2e91b6d
Create Date: 2026-12-04 13:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5e8b1d3c7a92"
down_revision: str | None = "c4a7f2e91b6d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_asset_created_at_id"), "asset", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_asset_created_at_id"), table_name="asset")
