"""The national views' statements: every organisation the caller can read, with what names
the state of its records (read on every request, to key the remembered answer), and each
organisation's record counts (read only when the answer is worked out). Set-based: one
statement each, whatever the number of organisations."""

from typing import Any, cast

from sqlalchemy import Select, String, Uuid, bindparam, func, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import col

from app.db import prebuilt
from app.models import Activity, Asset, Organisation, OrganisationRecords
from app.organisations import hierarchy


def _forest(scope: Any | None) -> Select[Any]:
    """Each organisation's place in the tree, name, kind and region, the number the database
    bumps whenever its records change, its next review date, and its own row's times: the
    same columns as the analysis's system (app.analysis.queries), for the whole service or
    below ``scope``."""
    statement = sa_select(
        col(Organisation.id),
        col(Organisation.parent_id),
        col(Organisation.name),
        col(Organisation.ods_code),
        type_coerce(col(Organisation.organisation_type), String).label("organisation_type"),
        func.coalesce(col(OrganisationRecords.revision), 0).label("revision"),
        col(Organisation.next_review_due),
        col(Organisation.region),
        col(Organisation.created_at),
        col(Organisation.updated_at),
    ).outerjoin(
        OrganisationRecords, col(OrganisationRecords.organisation_id) == col(Organisation.id)
    )
    if scope is not None:
        tree = hierarchy.descendants(scope)
        statement = statement.where(col(Organisation.id).in_(sa_select(tree.c.id)))
    return cast(Select[Any], statement)


# A global caller's, and a scoped caller's (below ``scope_id``).
EVERYWHERE = prebuilt("national.forest", _forest(None))
BELOW = prebuilt("national.forest_below", _forest(bindparam("scope_id", type_=Uuid)))


def record_counts(table: type[Asset] | type[Activity]) -> Select[Any]:
    """Per organisation: how many records of the kind it has, and when the latest changed."""
    organisation_id = col(table.organisation_id)
    latest = func.max(col(table.updated_at))
    statement = sa_select(organisation_id, func.count().label("records"), latest)
    return cast(Select[Any], statement.group_by(organisation_id))
