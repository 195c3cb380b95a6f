"""Action plans: plan items (with the assets and activities each will create or improve), the
audit trail's new resource type ``plan_item``, and an organisation's next review date.

A plan item's capability is a plain key, not a reference into a model, so that an item outlives
a later model version that renames or drops its capability.

Revision ID: 07c732524b2a
Revises: b7e1c4a9d250
Create Date: 2026-12-03 22:11:09.433422
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "07c732524b2a"
down_revision: str | None = "b7e1c4a9d250"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESOURCE_TYPES = (
    "organisation",
    "asset",
    "activity",
    "assessment",
    "api_key",
    "reference_model",
    "report_link",
    "gap_analysis",
    "report",
    "map",
)


def _resource_types(values: Sequence[str]) -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_audit_event_resource_type"), type_="check")
        batch_op.create_check_constraint(
            "resource_type", f"resource_type IN ({', '.join(repr(v) for v in values)})"
        )


def upgrade() -> None:
    op.create_table(
        "plan_item",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("capability_key", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "active",
                "completed",
                "stopped",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "rag",
            sa.Enum(
                "green",
                "amber",
                "red",
                name="rag",
                native_enum=False,
                create_constraint=True,
                length=8,
            ),
            nullable=False,
        ),
        sa.Column("notes", sa.String(length=4000), nullable=True),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_plan_item_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_item")),
    )
    with op.batch_alter_table("plan_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plan_item_capability_key"), ["capability_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_plan_item_organisation_id_created_at_id"),
            ["organisation_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_plan_item_organisation_id_external_id"),
            ["organisation_id", "external_id"],
            unique=True,
        )

    op.create_table(
        "plan_item_activity",
        sa.Column("plan_item_id", sa.Uuid(), nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activity.id"],
            name=op.f("fk_plan_item_activity_activity_id_activity"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_item_id"],
            ["plan_item.id"],
            name=op.f("fk_plan_item_activity_plan_item_id_plan_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_item_id", "activity_id", name=op.f("pk_plan_item_activity")),
    )
    with op.batch_alter_table("plan_item_activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plan_item_activity_activity_id"), ["activity_id"], unique=False
        )

    op.create_table(
        "plan_item_asset",
        sa.Column("plan_item_id", sa.Uuid(), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["asset.id"],
            name=op.f("fk_plan_item_asset_asset_id_asset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_item_id"],
            ["plan_item.id"],
            name=op.f("fk_plan_item_asset_plan_item_id_plan_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_item_id", "asset_id", name=op.f("pk_plan_item_asset")),
    )
    with op.batch_alter_table("plan_item_asset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_item_asset_asset_id"), ["asset_id"], unique=False)

    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_review_due", sa.Date(), nullable=True))

    _resource_types((*RESOURCE_TYPES, "plan_item"))


def downgrade() -> None:
    op.execute("DELETE FROM audit_event WHERE resource_type = 'plan_item'")
    _resource_types(RESOURCE_TYPES)
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("next_review_due")

    with op.batch_alter_table("plan_item_asset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_item_asset_asset_id"))

    op.drop_table("plan_item_asset")
    with op.batch_alter_table("plan_item_activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_item_activity_activity_id"))

    op.drop_table("plan_item_activity")
    with op.batch_alter_table("plan_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_item_organisation_id_external_id"))
        batch_op.drop_index(batch_op.f("ix_plan_item_organisation_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_plan_item_capability_key"))

    op.drop_table("plan_item")
