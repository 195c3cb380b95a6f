"""Each organisation's standing against a model, kept for the national views.

A new worker or instance reads the standings of every organisation from here instead of
crediting all 8,000 again (6 to 13 s for its first GET /v1/systems). Derived data: a row is
used only while its ``inputs`` digest matches what it would be worked out from now, and an
organisation's rows go with it.

Revision ID: 3c9e5a7d2b18
Revises: 7b1f48aa0c69
Create Date: 2026-12-04 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c9e5a7d2b18"
down_revision: str | None = "7b1f48aa0c69"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organisation_standing",
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("inputs", sa.String(length=64), nullable=False),
        sa.Column("statuses", sa.Text(), nullable=False),
        sa.Column("scores", sa.Text(), nullable=False),
        sa.Column("assets", sa.Integer(), nullable=False),
        sa.Column("activities", sa.Integer(), nullable=False),
        sa.Column("last_changed", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_organisation_standing_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "model_version", "organisation_id", name=op.f("pk_organisation_standing")
        ),
    )
    # Under the foreign key: an organisation's delete finds its standings by it.
    op.create_index(
        op.f("ix_organisation_standing_organisation_id"),
        "organisation_standing",
        ["organisation_id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_organisation_standing_organisation_id"), table_name="organisation_standing"
    )
    op.drop_table("organisation_standing")
