"""Indexes the hot queries' plans ask for (tests/test_query_plans.py finds them).

Each index says which query needs it; an index no hot query needs is not added, since every
write pays for it.

Revision ID: 7b1f48aa0c69
Revises: 5e8b1d3c7a92
Create Date: 2026-12-04 13:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7b1f48aa0c69"
down_revision: str | None = "5e8b1d3c7a92"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # GET /v1/organisations?organisationType=… (a national dashboard's list of one type, e.g.
    # every ICB): its page is in (created_at, id) order, so without the type in front the
    # plan read the whole organisation index in that order, filtering out the other types
    # (all 8,000 organisations at national scale, for the 42 ICBs). With it, the page and the
    # next page's keyset start are one range of this index.
    op.create_index(
        op.f("ix_organisation_organisation_type_created_at_id"),
        "organisation",
        ["organisation_type", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_organisation_organisation_type_created_at_id"), table_name="organisation"
    )
