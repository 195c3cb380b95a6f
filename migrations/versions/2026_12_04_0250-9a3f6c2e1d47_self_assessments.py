"""Self-assessments: a questionnaire's answers per organisation and model version, their
submit (which writes the organisation's records and stores an assessment) and their moderation;
the audit trail's new resource type ``self_assessment``.

One draft per organisation and model version at a time: a partial unique index over drafts
(both SQLite and PostgreSQL have them). The model version is a plain column, not a foreign key:
a draft must not pin a model; the assessment its submit stores does.

Revision ID: 9a3f6c2e1d47
Revises: 5c1e9a7d3b08
Create Date: 2026-12-04 02:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a3f6c2e1d47"
down_revision: str | None = "5c1e9a7d3b08"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESOURCE_TYPES = (
    "organisation",
    "asset",
    "activity",
    "assessment",
    "api_key",
    "reference_model",
    "plan_item",
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
        "self_assessment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("reference_model_version", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "submitted",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("opened_by_respondent", sa.String(length=100), nullable=True),
        sa.Column("submitted_by", sa.String(length=200), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assessment_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_self_assessment_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessment.id"],
            name=op.f("fk_self_assessment_assessment_id_assessment"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_assessment")),
    )
    with op.batch_alter_table("self_assessment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_self_assessment_organisation_id_created_at_id"),
            ["organisation_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "uq_self_assessment_open_draft",
            ["organisation_id", "reference_model_version"],
            unique=True,
            sqlite_where=sa.text("status = 'draft'"),
            postgresql_where=sa.text("status = 'draft'"),
        )

    op.create_table(
        "self_assessment_answer",
        sa.Column("self_assessment_id", sa.Uuid(), nullable=False),
        sa.Column("capability_key", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("not_applicable", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.String(length=2000), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("answered_by", sa.String(length=200), nullable=False),
        sa.Column("respondent", sa.String(length=100), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=True),
        sa.Column("record_version", sa.Integer(), nullable=True),
        sa.Column(
            "moderation",
            sa.Enum(
                "agree",
                "change",
                name="moderation",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("moderated_level", sa.Integer(), nullable=True),
        sa.Column("moderation_reason", sa.String(length=2000), nullable=True),
        sa.Column("moderated_by", sa.String(length=200), nullable=True),
        sa.Column("moderator_respondent", sa.String(length=100), nullable=True),
        sa.Column("moderated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "level IS NULL OR level BETWEEN 0 AND 4",
            name=op.f("ck_self_assessment_answer_level"),
        ),
        sa.CheckConstraint(
            "moderated_level IS NULL OR moderated_level BETWEEN 0 AND 4",
            name=op.f("ck_self_assessment_answer_moderated_level"),
        ),
        sa.CheckConstraint(
            "(level IS NULL) = not_applicable",
            name=op.f("ck_self_assessment_answer_level_or_not_applicable"),
        ),
        sa.ForeignKeyConstraint(
            ["self_assessment_id"],
            ["self_assessment.id"],
            name=op.f("fk_self_assessment_answer_self_assessment_id_self_assessment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "self_assessment_id", "capability_key", name=op.f("pk_self_assessment_answer")
        ),
    )
    with op.batch_alter_table("self_assessment_answer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_self_assessment_answer_record_id"), ["record_id"], unique=False
        )

    _resource_types((*RESOURCE_TYPES, "self_assessment"))


def downgrade() -> None:
    op.execute("DELETE FROM audit_event WHERE resource_type = 'self_assessment'")
    _resource_types(RESOURCE_TYPES)
    with op.batch_alter_table("self_assessment_answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_self_assessment_answer_record_id"))
    op.drop_table("self_assessment_answer")
    with op.batch_alter_table("self_assessment", schema=None) as batch_op:
        batch_op.drop_index("uq_self_assessment_open_draft")
        batch_op.drop_index(batch_op.f("ix_self_assessment_organisation_id_created_at_id"))
    op.drop_table("self_assessment")
