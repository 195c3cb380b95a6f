"""The analysis's prebuilt statements (see app.db.prebuilt), run by app.db.fetch on either
database, outside a transaction (is an analysis remembered?) or in its read snapshot."""

from typing import Any

from sqlalchemy import CTE, String, Uuid, bindparam, func, type_coerce
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import col

from app.db import prebuilt
from app.models import Organisation, OrganisationRecords


def _system_walk() -> CTE:
    """The walk of ``hierarchy.descendants`` carrying the columns the analysis reads, so that
    no join back to ``organisation`` follows it: joined back, the planner hashed every
    organisation in the country (8,000) to keep the few hundred of one system."""
    org = Organisation.__table__.c  # type: ignore[attr-defined]

    def columns(table: Any) -> list[Any]:
        return [
            table.id,
            table.parent_id,
            table.name,
            type_coerce(table.organisation_type, String).label("organisation_type"),
            table.next_review_due,
            table.region,
        ]

    root = bindparam("root_id", type_=Uuid)
    walk = sa_select(*columns(org)).where(org.id == root).cte("system", recursive=True)
    child = aliased(Organisation.__table__)  # type: ignore[attr-defined]
    return walk.union(sa_select(*columns(child.c)).where(child.c.parent_id == walk.c.id))


_walk = _system_walk()
# Read by its key, one organisation at a time: the system's few hundred, never the country's.
_revision = (
    sa_select(col(OrganisationRecords.revision))
    .where(col(OrganisationRecords.organisation_id) == _walk.c.id)
    .scalar_subquery()
)

# The system below an organisation: each member's parent, name, kind, the number the
# database bumps whenever its records change, and when it next reviews its map and plan.
# Built once, like the ancestor walk: constructing the recursive CTE cost more than running it.
SYSTEM = prebuilt(
    "analysis.system",
    sa_select(
        _walk.c.id,
        _walk.c.parent_id,
        _walk.c.name,
        _walk.c.organisation_type,
        func.coalesce(_revision, 0).label("revision"),
        _walk.c.next_review_due,
        _walk.c.region,
    ),
)
