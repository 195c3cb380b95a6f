"""API keys: when each was last used, and rotation (a new secret, the old one kept for a grace
period the caller chose).

Only one previous secret is kept: rotating again before the grace period ends replaces it, so
at most two secrets of a key work at any moment.

Revision ID: a3f7c2e91b64
Revises: 8f3b2d6e1a47
Create Date: 2026-12-04 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a3f7c2e91b64"
down_revision: str | None = "8f3b2d6e1a47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("last_used_at", "rotated_at", "previous_secret_hash", "previous_secret_expires_at")


def upgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("previous_secret_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
