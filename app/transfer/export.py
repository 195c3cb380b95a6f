"""Assets and activities as CSV, every matching row, streamed.

The rows come from a server-side cursor (``yield_per``) in one read snapshot, a batch at a
time, each batch written out as CSV before the next is fetched, so exporting 100,000 assets
never holds them all. Assets come as plain rows with their tags in the same query (ORM objects
were most of an export's time); activities as records, with each batch's asset links read in
one query. The columns are the import's (app/transfer/columns.py): an export re-imports
unchanged. Each export is audited once the caller's access is checked, before the first row."""

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from app.activities import service as activities_service
from app.activities.schemas import ActivityFilters
from app.assets import queries as assets_queries
from app.assets import service as assets_service
from app.assets.schemas import AssetFilters
from app.audit import service as audit
from app.auth import access
from app.auth.principal import Principal
from app.db import ReadContext
from app.models import Activity, Asset, Organisation, PlanItem
from app.organisations import hierarchy
from app.plans import links as plans_links
from app.plans import service as plans_service
from app.plans.schemas import PlanItemFilters
from app.transfer.columns import ACTIVITY_COLUMNS, ASSET_COLUMNS, PLAN_ITEM_COLUMNS, to_row
from app.transfer.csvio import encode_rows
from app.vocabulary import ResourceType

BATCH_ROWS = 1000


async def assets_csv(
    reads: ReadContext,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    all_levels: bool,
    filters: AssetFilters,
) -> AsyncIterator[bytes]:
    """The CSV, as chunks to stream. The organisation is checked now (a 404 is a problem, not
    a broken download); the rows are read as the chunks are sent. A caller who may see the
    organisation may see its whole subtree."""
    await access.organisation(reads, principal, organisation_id)
    await _audit(reads, principal, ResourceType.ASSET, organisation_id, all_levels, filters)
    return _stream_assets(reads, organisation_id, all_levels=all_levels, filters=filters)


async def all_assets_csv(
    reads: ReadContext, *, principal: Principal, filters: AssetFilters
) -> AsyncIterator[bytes]:
    """Every asset the caller can read, as CSV: a scoped caller's is its scope's subtree
    export; a global caller's, every organisation's (the same columns, rows and bounded
    memory: a batch at a time from one server-side cursor)."""
    if principal.organisation_id is not None:
        return await assets_csv(
            reads,
            principal=principal,
            organisation_id=principal.organisation_id,
            all_levels=True,
            filters=filters,
        )
    await _audit(reads, principal, ResourceType.ASSET, None, True, filters)
    return _stream_assets(reads, None, all_levels=True, filters=filters)


async def activities_csv(
    reads: ReadContext,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    all_levels: bool,
    filters: ActivityFilters,
) -> AsyncIterator[bytes]:
    await access.organisation(reads, principal, organisation_id)
    await _audit(reads, principal, ResourceType.ACTIVITY, organisation_id, all_levels, filters)
    statement = activities_service.matching(organisation_id, all_levels=all_levels, filters=filters)
    return _stream(reads, statement, organisation_id, all_levels=all_levels)


async def plan_items_csv(
    reads: ReadContext,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    all_levels: bool,
    filters: PlanItemFilters,
) -> AsyncIterator[bytes]:
    await access.organisation(reads, principal, organisation_id)
    await _audit(reads, principal, ResourceType.PLAN_ITEM, organisation_id, all_levels, filters)
    statement = plans_service.matching(
        organisation_id, all_levels=all_levels, filters=filters, on=plans_service.today()
    )
    return _stream_plan_items(reads, statement, organisation_id, all_levels=all_levels)


async def _audit(
    reads: ReadContext,
    principal: Principal,
    resource_type: ResourceType,
    organisation_id: uuid.UUID | None,
    all_levels: bool,
    filters: AssetFilters | ActivityFilters | PlanItemFilters,
) -> None:
    details = {
        "format": "csv",
        "depth": "all" if all_levels else "1",
        "filters": filters.model_dump(mode="json", exclude_none=True),
    }
    await audit.exported(
        reads,
        principal=principal,
        resource_type=resource_type,
        organisation_id=organisation_id,
        details=details,
    )


# An organisation as an exported row names it beside its id: (ODS code, name).
Names = dict[uuid.UUID, tuple[str | None, str]]


async def _names(
    session: AsyncSession, organisation_id: uuid.UUID | None, *, all_levels: bool
) -> Names:
    """Every organisation the export's rows can belong to, in one query before the first row
    (not a join per batch): the export's query count does not grow with its rows. No
    organisation (None): every one (some 8,000 pairs of short strings at national scale)."""
    statement = select(Organisation.id, Organisation.ods_code, Organisation.name)
    if organisation_id is not None and all_levels:
        tree = hierarchy.descendants(organisation_id)
        statement = statement.where(col(Organisation.id).in_(select(tree.c.id)))
    elif organisation_id is not None:
        statement = statement.where(Organisation.id == organisation_id)
    return {row_id: (code, name) for row_id, code, name in (await session.exec(statement)).all()}


def _named(values: dict[str, Any], names: Names) -> dict[str, Any]:
    code, name = names.get(values["organisation_id"], (None, None))
    return values | {"organisation_ods_code": code, "organisation_name": name}


async def _stream(
    reads: ReadContext,
    statement: SelectOfScalar[Activity],
    organisation_id: uuid.UUID,
    *,
    all_levels: bool,
) -> AsyncIterator[bytes]:
    yield encode_rows([list(ACTIVITY_COLUMNS)], first=True)
    ordered = statement.order_by(col(Activity.created_at), col(Activity.id)).execution_options(
        yield_per=BATCH_ROWS
    )
    async with reads.snapshot() as session:
        names = await _names(session, organisation_id, all_levels=all_levels)
        result = await session.stream_scalars(ordered)
        async for batch in result.partitions():
            yield encode_rows(await _activity_rows(session, batch, names))
            for record in batch:  # the session keeps a batch, not the export
                session.expunge(record)


async def _stream_assets(
    reads: ReadContext,
    organisation_id: uuid.UUID | None,
    *,
    all_levels: bool,
    filters: AssetFilters,
) -> AsyncIterator[bytes]:
    """Rows with their tags in one query, a batch at a time from the server-side cursor."""
    yield encode_rows([list(ASSET_COLUMNS)], first=True)
    async with reads.snapshot() as session:
        names = await _names(session, organisation_id, all_levels=all_levels)
        values = assets_service.filter_values(filters)
        statement = assets_queries.exported(values, organisation_id, all_levels=all_levels)
        result = await session.stream(statement.execution_options(yield_per=BATCH_ROWS))
        async for batch in result.mappings().partitions():
            yield encode_rows(
                [
                    to_row(ASSET_COLUMNS, _named(assets_service.tags_and_evidence(row), names))
                    for row in batch
                ]
            )


async def _activity_rows(
    session: AsyncSession, activities: Sequence[Activity], names: Names
) -> list[list[str]]:
    links = await activities_service.links_of(session, [activity.id for activity in activities])
    linked = {asset_id for ids in links.values() for asset_id in ids}
    keys: dict[uuid.UUID, tuple[uuid.UUID, str | None]] = {}
    if linked:
        rows = await session.exec(
            select(Asset.id, Asset.organisation_id, Asset.external_id).where(
                col(Asset.id).in_(linked)
            )
        )
        keys = {asset_id: (org, key) for asset_id, org, key in rows.all()}
    out = []
    for activity in activities:
        # A link to one of its own organisation's assets that has a key is written by that
        # key (it survives a move to another instance); any other by id.
        by_key, by_id = [], []
        for asset_id in links[activity.id]:
            org, key = keys.get(asset_id, (None, None))
            if key is not None and org == activity.organisation_id:
                by_key.append(key)
            else:
                by_id.append(asset_id)
        values = activity.model_dump() | {"asset_ids": by_id, "asset_external_ids": sorted(by_key)}
        out.append(to_row(ACTIVITY_COLUMNS, _named(values, names)))
    return out


async def _stream_plan_items(
    reads: ReadContext,
    statement: SelectOfScalar[PlanItem],
    organisation_id: uuid.UUID,
    *,
    all_levels: bool,
) -> AsyncIterator[bytes]:
    yield encode_rows([list(PLAN_ITEM_COLUMNS)], first=True)
    ordered = statement.order_by(col(PlanItem.created_at), col(PlanItem.id)).execution_options(
        yield_per=BATCH_ROWS
    )
    async with reads.snapshot() as session:
        names = await _names(session, organisation_id, all_levels=all_levels)
        result = await session.stream_scalars(ordered)
        async for batch in result.partitions():
            yield encode_rows(await _plan_item_rows(session, batch, names))
            for item in batch:
                session.expunge(item)


async def _plan_item_rows(
    session: AsyncSession, items: Sequence[PlanItem], names: Names
) -> list[list[str]]:
    ids = [item.id for item in items]
    links = {
        "asset": await plans_links.assets_of(session, ids),
        "activity": await plans_links.activities_of(session, ids),
    }
    keys: dict[str, dict[uuid.UUID, tuple[uuid.UUID, str | None]]] = {}
    for kind, table in (("asset", Asset), ("activity", Activity)):
        columns: Any = table
        linked = {record_id for found in links[kind].values() for record_id in found}
        keys[kind] = {}
        if linked:
            rows = await session.exec(
                select(columns.id, columns.organisation_id, columns.external_id).where(
                    col(columns.id).in_(linked)
                )
            )
            keys[kind] = {record_id: (org, key) for record_id, org, key in rows.all()}
    out = []
    for item in items:
        values = item.model_dump()
        for kind in ("asset", "activity"):
            # As an activity's assets: a record of the item's own organisation that has a key
            # is written by that key (it survives a move to another instance); any other by id.
            by_key, by_id = [], []
            for record_id in links[kind][item.id]:
                org, key = keys[kind].get(record_id, (None, None))
                if key is not None and org == item.organisation_id:
                    by_key.append(key)
                else:
                    by_id.append(record_id)
            values |= {f"{kind}_ids": by_id, f"{kind}_external_ids": sorted(by_key)}
        out.append(to_row(PLAN_ITEM_COLUMNS, _named(values, names)))
    return out
