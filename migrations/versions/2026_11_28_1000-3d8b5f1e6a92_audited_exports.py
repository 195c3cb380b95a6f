"""Exports are audited: the audit trail's action may be 'export', and its resource type may
name what only an export reads out (a gap analysis, a report, a whole map)

Downgrading deletes the export events first: the earlier schema cannot hold them (its CHECKs
refuse the values) and the earlier code could not show them. Refusing instead would also block
``alembic downgrade base``, which drops the whole table a step later anyway; an operator who
must keep the record of exports backs the table up before downgrading.

Revision ID: 3d8b5f1e6a92
Revises: 3d9a6b1c2e47
Create Date: 2026-11-28 10:00:00
"""

from collections.abc import Sequence

from alembic import op
from alembic.operations import BatchOperations

revision: str = "3d8b5f1e6a92"
down_revision: str | None = "3d9a6b1c2e47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIONS = ("create", "update", "delete")
WITH_EXPORT = (*ACTIONS, "export")
RESOURCE_TYPES = (
    "organisation",
    "asset",
    "activity",
    "assessment",
    "api-key",
    "reference-model",
    "report-link",
)
WITH_EXPORTED = (*RESOURCE_TYPES, "gap-analysis", "report", "map")


def _allow(batch_op: BatchOperations, column: str, values: Sequence[str]) -> None:
    batch_op.drop_constraint(op.f(f"ck_audit_event_{column}"), type_="check")
    batch_op.create_check_constraint(
        column, f"{column} IN ({', '.join(repr(value) for value in values)})"
    )


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        _allow(batch_op, "action", WITH_EXPORT)
        _allow(batch_op, "resource_type", WITH_EXPORTED)


def downgrade() -> None:
    op.execute("DELETE FROM audit_event WHERE action = 'export'")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        _allow(batch_op, "action", ACTIONS)
        _allow(batch_op, "resource_type", RESOURCE_TYPES)
