"""The voluntary_sector organisation type: a hospice or a charity had only "other" before.
Existing rows are not rewritten (the data cannot say which "other" is a voluntary body); a
downgrade maps voluntary_sector back to "other".

Revision ID: b7e1c4a9d250
Revises: 8e4b2d6f1a37
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e1c4a9d250"
down_revision: str | None = "8e4b2d6f1a37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TYPES = (
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
NEW_TYPES = (*OLD_TYPES[:-1], "voluntary_sector", "other")


def _types_check(types: Sequence[str]) -> str:
    return f"organisation_type IN ({', '.join(repr(t) for t in types)})"


def _check(types: Sequence[str]) -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_organisation_organisation_type"), type_="check")
        batch_op.create_check_constraint("organisation_type", _types_check(types))


def upgrade() -> None:
    _check(NEW_TYPES)


def downgrade() -> None:
    organisation = sa.table("organisation", sa.column("organisation_type", sa.String))
    op.execute(
        organisation.update()
        .where(organisation.c.organisation_type == "voluntary_sector")
        .values(organisation_type="other")
    )
    _check(OLD_TYPES)
