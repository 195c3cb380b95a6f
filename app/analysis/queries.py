"""The analysis's prebuilt statements (see app.db.prebuilt), run by app.db.fetch on either
database, outside a transaction (is an analysis remembered?) or in its read snapshot."""

from sqlalchemy import String, Uuid, bindparam, func, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import col

from app.db import prebuilt
from app.models import Organisation, OrganisationRecords
from app.organisations import hierarchy

_tree = hierarchy.descendants(bindparam("root_id", type_=Uuid))

# The system below an organisation: each member's parent, name, kind, the number the
# database bumps whenever its records change, and when it next reviews its map and plan.
# Built once, like the ancestor walk: constructing the recursive CTE cost more than running it.
SYSTEM = prebuilt(
    "analysis.system",
    sa_select(
        _tree.c.id,
        _tree.c.parent_id,
        col(Organisation.name),
        type_coerce(col(Organisation.organisation_type), String).label("organisation_type"),
        func.coalesce(col(OrganisationRecords.revision), 0).label("revision"),
        col(Organisation.next_review_due),
        col(Organisation.region),
    )
    .join(Organisation, col(Organisation.id) == _tree.c.id)
    .outerjoin(OrganisationRecords, col(OrganisationRecords.organisation_id) == _tree.c.id),
)
