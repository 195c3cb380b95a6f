"""Imported returns: the table of DMA and NHS IMPACT scores an organisation imports, the
triggers that bump its records revision when they change (a remembered analysis credits
them, so it must not outlive an import), and the audit trail's resource type ``return``.

Revision ID: a41c7e5d9b20
Revises: a3f6c2d18e57
Create Date: 2026-12-04 02:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a41c7e5d9b20"
down_revision: str | None = "a3f6c2d18e57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "return_score"
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
    "plan_item",
)
# As in 3d9a6b1c2e47 and 5c1e9a7d3b08 (a migration does not import another).
POSTGRES_TRIGGERS = {
    "insert": "AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows",
    "update": "AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows",
}
SQLITE_UPSERT = (
    "INSERT INTO organisation_records (organisation_id, revision) SELECT {row}.organisation_id, 1 "
    "WHERE {condition} ON CONFLICT (organisation_id) DO UPDATE SET revision = revision + 1;"
)
SQLITE_TRIGGERS = {
    "insert": ("AFTER INSERT ON {table}", [("NEW", "true")]),
    "update": (
        "AFTER UPDATE ON {table}",
        [("NEW", "true"), ("OLD", "OLD.organisation_id <> NEW.organisation_id")],
    ),
    "delete": ("AFTER DELETE ON {table}", [("OLD", "true")]),
}


def _resource_types(values: Sequence[str]) -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_audit_event_resource_type"), type_="check")
        batch_op.create_check_constraint(
            "resource_type", f"resource_type IN ({', '.join(repr(v) for v in values)})"
        )


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "framework",
            sa.Enum(
                "dma",
                "nhs-impact",
                name="framework",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("heading", sa.String(length=64), nullable=False),
        sa.Column("domain", sa.String(length=100), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("validated", sa.Boolean(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_return_score_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_score")),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_return_score_organisation_id_framework_year"),
            ["organisation_id", "framework", "year"],
            unique=False,
        )
    _resource_types((*RESOURCE_TYPES, "return"))
    if op.get_bind().dialect.name == "postgresql":
        for event, when in POSTGRES_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {TABLE}_records_{event} {when.format(table=TABLE)} "
                "FOR EACH STATEMENT EXECUTE FUNCTION lhs_records_changed()"
            )
        return
    for event, (when, rows) in SQLITE_TRIGGERS.items():
        body = " ".join(
            SQLITE_UPSERT.format(row=row, condition=condition) for row, condition in rows
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_records_{event} {when.format(table=TABLE)} BEGIN {body} END"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in POSTGRES_TRIGGERS:
        op.execute(f"DROP TRIGGER {TABLE}_records_{event}" + (f" ON {TABLE}" if postgres else ""))
    op.execute("DELETE FROM audit_event WHERE resource_type = 'return'")
    _resource_types(RESOURCE_TYPES)
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_return_score_organisation_id_framework_year"))
    op.drop_table(TABLE)
