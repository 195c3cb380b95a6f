"""Benchmarks by organisation type: an organisation's demo flag and benchmark opt-out, and the
snapshot of every organisation's scores the benchmarks are computed from.

The two flags are added with a server default (every organisation is real and counted) and
the default is then dropped, so the model and the database agree that the application sets
them. The snapshot starts as one row never taken: the first refresh fills it.

Revision ID: a3f6c2d18e57
Revises: 5c1e9a7d3b08
Create Date: 2026-12-04 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a3f6c2d18e57"
down_revision: str | None = "5c1e9a7d3b08"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in b7e1c4a9d250 (a migration does not import another: each stays as it ran).
ORGANISATION_TYPES = (
    "trust",
    "acute_trust",
    "mental_health_trust",
    "community_trust",
    "ambulance_trust",
    "icb",
    "ics",
    "primary_care_network",
    "gp_federation",
    "gp_practice",
    "local_authority",
    "network",
    "voluntary_sector",
    "other",
)


def upgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_demo", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("benchmark_opt_out", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.alter_column("is_demo", server_default=None)
        batch_op.alter_column("benchmark_opt_out", server_default=None)
    snapshot = op.create_table(
        "benchmark_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reference_model", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benchmark_snapshot")),
    )
    # The one row, never taken yet: a refresh only ever updates it (compare and set).
    op.bulk_insert(snapshot, [{"id": 1, "taken_at": None, "reference_model": None}])
    op.create_table(
        "benchmark_entry",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("figure", sa.String(length=80), nullable=False),
        sa.Column("system_id", sa.Uuid(), nullable=False),
        sa.Column(
            "organisation_type",
            sa.Enum(
                *ORGANISATION_TYPES,
                name="organisation_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", "figure", name=op.f("pk_benchmark_entry")),
    )
    op.create_index(
        op.f("ix_benchmark_entry_organisation_type_figure"),
        "benchmark_entry",
        ["organisation_type", "figure"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_benchmark_entry_organisation_type_figure"), table_name="benchmark_entry")
    op.drop_table("benchmark_entry")
    op.drop_table("benchmark_snapshot")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("benchmark_opt_out")
        batch_op.drop_column("is_demo")
