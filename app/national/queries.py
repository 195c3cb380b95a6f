"""The national views' statements: every organisation the caller can read, with what names
the state of its records (read on every request, to key the remembered answer), and each
organisation's record counts (read only when the answer is worked out). Set-based: one
statement each, whatever the number of organisations."""

from typing import Any, cast

from sqlalchemy import Select, String, Uuid, bindparam, func, type_coerce
from sqlalchemy import cast as sa_cast
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import UpdateBase
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import prebuilt
from app.models import Activity, Asset, Organisation, OrganisationRecords, OrganisationStanding
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
        col(Organisation.version),
    ).outerjoin(
        OrganisationRecords, col(OrganisationRecords.organisation_id) == col(Organisation.id)
    )
    if scope is not None:
        tree = hierarchy.descendants(scope)
        statement = statement.where(col(Organisation.id).in_(sa_select(tree.c.id)))
    return cast(Select[Any], statement)


# A global caller's, and a scoped caller's (below ``root_id``, its scope).
EVERYWHERE = prebuilt("national.forest", _forest(None))
BELOW = prebuilt("national.forest_below", _forest(bindparam("root_id", type_=Uuid)))


def _fingerprint(scope: Any | None) -> Select[Any]:
    """One row that changes whenever the forest's rows may have: how many organisations, the
    sum of their records revisions (each only ever grows: the database bumps it on every
    change to a record), the sum of their row versions (bumped on every change to the
    organisation: a rename, a move, a new region), and the latest creation and change times
    (a deletion and a creation in between would otherwise cancel out in the count)."""
    forest = _forest(scope).subquery()
    statement = sa_select(
        func.count().label("organisations"),
        # As text: PostgreSQL's sum of integers is a numeric, SQLite's an integer.
        sa_cast(func.coalesce(func.sum(forest.c.revision), 0), String).label("revisions"),
        sa_cast(func.coalesce(func.sum(forest.c.version), 0), String).label("versions"),
        func.max(forest.c.created_at).label("created"),
        func.max(forest.c.updated_at).label("updated"),
    )
    return cast(Select[Any], statement)


FINGERPRINT = prebuilt("national.fingerprint", _fingerprint(None))
FINGERPRINT_BELOW = prebuilt(
    "national.fingerprint_below", _fingerprint(bindparam("root_id", type_=Uuid))
)


def shared_claims() -> Select[Any]:
    """Per organisation, what it shares with those below it, grouped as the analysis's
    aggregates group it (app.analysis.peers): what an organisation's standing inherits."""
    asset = Asset.__table__.c  # type: ignore[attr-defined]
    keys = (
        asset.organisation_id,
        asset.capability_key,
        asset.confidence,
        func.coalesce(func.json_array_length(asset.evidence), 0) > 0,
        asset.reviewed_by.is_not(None),
    )
    statement = (
        sa_select(*keys, func.max(asset.maturity))
        .where(asset.shared_with_members.is_(True), asset.capability_key.is_not(None))
        .group_by(*keys)
    )
    return cast(Select[Any], statement)


def record_counts(table: type[Asset] | type[Activity]) -> Select[Any]:
    """Per organisation: how many records of the kind it has, and when the latest changed."""
    organisation_id = col(table.organisation_id)
    latest = func.max(col(table.updated_at))
    statement = sa_select(organisation_id, func.count().label("records"), latest)
    return cast(Select[Any], statement.group_by(organisation_id))


def _stored(scope: Any | None) -> Select[Any]:
    """The standings kept against one model (``model_version``): every organisation's, or
    those below ``scope``."""
    standing = OrganisationStanding.__table__.c  # type: ignore[attr-defined]
    statement = sa_select(
        standing.organisation_id,
        standing.inputs,
        standing.statuses,
        standing.scores,
        standing.assets,
        standing.activities,
        standing.last_changed,
    ).where(standing.model_version == bindparam("model_version", type_=String))
    if scope is not None:
        tree = hierarchy.descendants(scope)
        statement = statement.where(standing.organisation_id.in_(sa_select(tree.c.id)))
    return cast(Select[Any], statement)


STORED = prebuilt("national.stored_standings", _stored(None))
STORED_BELOW = prebuilt(
    "national.stored_standings_below", _stored(bindparam("root_id", type_=Uuid))
)


def keep_standings(session: AsyncSession, values: list[dict[str, Any]]) -> UpdateBase:
    """Insert these standings, or replace the kept ones of the same organisation and model."""
    table = OrganisationStanding.__table__  # type: ignore[attr-defined]
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).values(values)
    replaced = {name: statement.excluded[name] for name in _REPLACED}
    return statement.on_conflict_do_update(
        index_elements=["model_version", "organisation_id"], set_=replaced
    )


_REPLACED = ("inputs", "statuses", "scores", "assets", "activities", "last_changed")
