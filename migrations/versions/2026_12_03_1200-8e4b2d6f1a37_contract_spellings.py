"""Contract 1.0.0 spellings in stored data: the audit trail's resource types in snake_case
('api-key' becomes 'api_key'), and each stored assessment's analysis names the overall score
``overallScore`` (it was ``summary.score`` for an organisation and ``summary.averageScore`` for
a system). Downgrading writes the old spellings back.

Revision ID: 8e4b2d6f1a37
Revises: 3d8b5f1e6a92
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision: str = "8e4b2d6f1a37"
down_revision: str | None = "3d8b5f1e6a92"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SAME = ("organisation", "asset", "activity", "assessment", "report", "map")
RENAMED = {
    "api-key": "api_key",
    "reference-model": "reference_model",
    "report-link": "report_link",
    "gap-analysis": "gap_analysis",
}
# The score's old name in each scope's summary.
OLD_SCORE = {"organisation": "score", "system": "averageScore"}
NEW_SCORE = "overallScore"

assessment = sa.table(
    "assessment",
    sa.column("id", sa.Uuid),
    sa.column("scope", sa.String),
    sa.column("result", sa.JSON),
)


def _resource_types(batch_op: BatchOperations, values: Sequence[str]) -> None:
    batch_op.drop_constraint(op.f("ck_audit_event_resource_type"), type_="check")
    batch_op.create_check_constraint(
        "resource_type", f"resource_type IN ({', '.join(repr(value) for value in values)})"
    )


def _rename_types(pairs: dict[str, str]) -> None:
    # Both spellings are allowed while the rows change, then only the new ones.
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        _resource_types(batch_op, (*SAME, *pairs, *pairs.values()))
    for old, new in pairs.items():
        op.execute(
            sa.text(
                "UPDATE audit_event SET resource_type = :new WHERE resource_type = :old"
            ).bindparams(old=old, new=new)
        )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        _resource_types(batch_op, (*SAME, *pairs.values()))


def _rename_scores(*, to_new: bool) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(assessment.c.id, assessment.c.scope, assessment.c.result))
    for row_id, scope, result in rows.all():
        summary: dict[str, Any] = result.get("summary", {})
        old = OLD_SCORE.get(scope, "score")
        source, target = (old, NEW_SCORE) if to_new else (NEW_SCORE, old)
        if source not in summary:
            continue
        result["summary"] = {
            (target if key == source else key): value for key, value in summary.items()
        }
        connection.execute(
            assessment.update().where(assessment.c.id == row_id).values(result=result)
        )


def upgrade() -> None:
    _rename_types(RENAMED)
    _rename_scores(to_new=True)


def downgrade() -> None:
    _rename_scores(to_new=False)
    _rename_types({new: old for old, new in RENAMED.items()})
