"""Assets and activities as CSV, every matching row, streamed.

The rows come from a server-side cursor (``stream_scalars`` with ``yield_per``) in one read
snapshot, a batch at a time: each batch's tags or asset links are read in one query and the
batch is written out as CSV before the next is fetched, so exporting 100,000 assets never holds
them all. The columns are the import's (app/transfer/columns.py): an export re-imports
unchanged."""

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from app.activities import service as activities_service
from app.activities.schemas import ActivityFilters
from app.assets import service as assets_service
from app.assets.schemas import AssetFilters
from app.auth import access
from app.auth.principal import Principal
from app.db import Sessions, read_snapshot
from app.models import Activity, Asset
from app.transfer.columns import ACTIVITY_COLUMNS, ASSET_COLUMNS, to_row
from app.transfer.csvio import encode_rows

BATCH_ROWS = 1000


async def assets_csv(
    sessions: Sessions,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    all_levels: bool,
    filters: AssetFilters,
) -> AsyncIterator[bytes]:
    """The CSV, as chunks to stream. The organisation is checked now (a 404 is a problem, not
    a broken download); the rows are read as the chunks are sent. A caller who may see the
    organisation may see its whole subtree."""
    await _visible(sessions, principal, organisation_id)
    statement = assets_service.matching(organisation_id, all_levels=all_levels, filters=filters)
    return _stream(sessions, statement, _asset_rows, list(ASSET_COLUMNS))


async def activities_csv(
    sessions: Sessions,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    all_levels: bool,
    filters: ActivityFilters,
) -> AsyncIterator[bytes]:
    await _visible(sessions, principal, organisation_id)
    statement = activities_service.matching(organisation_id, all_levels=all_levels, filters=filters)
    return _stream(sessions, statement, _activity_rows, list(ACTIVITY_COLUMNS))


async def _visible(sessions: Sessions, principal: Principal, organisation_id: uuid.UUID) -> None:
    async with sessions.read() as session:
        await access.organisation(session, principal, organisation_id)


async def _stream(
    sessions: Sessions, statement: SelectOfScalar[Any], to_rows: Any, header: list[str]
) -> AsyncIterator[bytes]:
    yield encode_rows([header], first=True)
    table = statement.column_descriptions[0]["entity"]
    ordered = statement.order_by(col(table.created_at), col(table.id)).execution_options(
        yield_per=BATCH_ROWS
    )
    async with read_snapshot(sessions) as session:
        result = await session.stream_scalars(ordered)
        async for batch in result.partitions():
            yield encode_rows(await to_rows(session, batch))
            for record in batch:  # the session keeps a batch, not the export
                session.expunge(record)


async def _asset_rows(session: AsyncSession, assets: Sequence[Asset]) -> list[list[str]]:
    tags = await assets_service.tags_of(session, [asset.id for asset in assets])
    return [
        to_row(ASSET_COLUMNS, asset.model_dump() | {"tags": tags[asset.id]}) for asset in assets
    ]


async def _activity_rows(session: AsyncSession, activities: Sequence[Activity]) -> list[list[str]]:
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
        out.append(to_row(ACTIVITY_COLUMNS, values))
    return out
