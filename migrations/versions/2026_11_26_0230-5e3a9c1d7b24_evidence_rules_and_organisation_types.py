"""Evidence rules and organisation types: who peer reviewed an asset, evidence on activities,
and the refined organisation types (acute, mental health, community and ambulance trusts; GP
federations). Existing rows keep their values: "trust" stays a valid type (a trust of any kind).

Revision ID: 5e3a9c1d7b24
Revises: 4b1d7e2c9a30
Create Date: 2026-11-26 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e3a9c1d7b24"
down_revision: str | None = "4b1d7e2c9a30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TYPES = (
    "trust",
    "icb",
    "ics",
    "primary_care_network",
    "gp_practice",
    "local_authority",
    "network",
    "other",
)
NEW_TYPES = (
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
    "other",
)
# Going back, a refined type becomes the nearest type the old schema knows.
DOWNGRADE = {
    "acute_trust": "trust",
    "mental_health_trust": "trust",
    "community_trust": "trust",
    "ambulance_trust": "trust",
    "gp_federation": "other",
}


def _types_check(types: Sequence[str]) -> str:
    return f"organisation_type IN ({', '.join(repr(t) for t in types)})"


def upgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_organisation_organisation_type"), type_="check")
        batch_op.create_check_constraint("organisation_type", _types_check(NEW_TYPES))
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed_by", sa.String(length=200), nullable=True))
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("evidence", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    # The default only filled the existing rows; new rows get theirs from the application.
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.alter_column("evidence", server_default=None)


def downgrade() -> None:
    organisation = sa.table("organisation", sa.column("organisation_type", sa.String))
    for new, old in DOWNGRADE.items():
        op.execute(
            organisation.update()
            .where(organisation.c.organisation_type == new)
            .values(organisation_type=old)
        )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_column("evidence")
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.drop_column("reviewed_by")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_organisation_organisation_type"), type_="check")
        batch_op.create_check_constraint("organisation_type", _types_check(OLD_TYPES))
