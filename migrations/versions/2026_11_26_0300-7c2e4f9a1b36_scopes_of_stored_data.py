"""Scopes for stored data: assessments record the top of the tree their analysis saw (so a
credential scoped below it cannot read what the snapshot shows of the rest), and reference
model variants record the organisation they belong to; the audit trail records signed links

Revision ID: 7c2e4f9a1b36
Revises: 40128da13fe7
Create Date: 2026-11-26 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision: str = "7c2e4f9a1b36"
down_revision: str | None = "40128da13fe7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESOURCE_TYPES = (
    "organisation",
    "asset",
    "activity",
    "assessment",
    "api-key",
    "reference-model",
)
WITH_LINKS = (*RESOURCE_TYPES, "report-link")


def _resource_types(batch_op: BatchOperations, types: Sequence[str]) -> None:
    batch_op.drop_constraint(op.f("ck_audit_event_resource_type"), type_="check")
    batch_op.create_check_constraint(
        "resource_type", f"resource_type IN ({', '.join(repr(t) for t in types)})"
    )


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        _resource_types(batch_op, WITH_LINKS)
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seen_from", sa.Uuid(), nullable=True))
    with op.batch_alter_table("reference_model", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_reference_model_organisation_id"), ["organisation_id"], unique=False
        )


def downgrade() -> None:
    op.execute("DELETE FROM audit_event WHERE resource_type = 'report-link'")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        _resource_types(batch_op, RESOURCE_TYPES)
    with op.batch_alter_table("reference_model", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reference_model_organisation_id"))
        batch_op.drop_column("organisation_id")
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_column("seen_from")
