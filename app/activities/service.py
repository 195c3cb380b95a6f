"""Activity use cases; all activity data access goes through here. Services flush; the
request's unit of work commits."""

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from app import records
from app.activities import queries
from app.activities.schemas import ActivityCreate, ActivityFilters, ActivityUpdate
from app.assets.schemas import stored_links
from app.audit import service as audit
from app.auth import access
from app.auth.principal import Principal
from app.db import ReadContext, Row, Rows, fetch, reads_in
from app.errors import FieldIssue, NotFound, ValidationFailed
from app.models import Activity, ActivityAsset, Asset
from app.organisations import hierarchy
from app.organisations.hierarchy import organisation_scope
from app.pagination import PageParams, page_values
from app.records import ExpectedVersion
from app.reference import service as reference_service
from app.vocabulary import Area, AuditAction, ResourceType, Role


@dataclass(frozen=True)
class LinkedActivity:
    activity: Activity
    asset_ids: list[uuid.UUID]

    @property
    def id(self) -> uuid.UUID:
        return self.activity.id

    @property
    def created_at(self) -> datetime:
        return self.activity.created_at


async def get(reads: ReadContext, activity_id: uuid.UUID, *, principal: Principal) -> Row:
    """The activity's row with the ids of the assets it uses (see ``linked``)."""
    rows = await fetch(reads, queries.ONE, {"activity_id": activity_id})
    if not rows:
        raise _missing(activity_id)
    await access.within(reads, principal, rows[0]["organisation_id"], missing=_missing(activity_id))
    return rows[0]


async def list_page(
    reads: ReadContext,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    page: PageParams,
    filters: ActivityFilters,
    all_levels: bool = False,
) -> Rows:
    """A page's rows, and one more when another page follows; ``linked`` makes each a record."""
    await access.organisation(reads, principal, organisation_id)
    given = filters.model_dump(exclude_none=True, mode="json")
    values = given | page_values(page) | {"organisation_id": organisation_id}
    return await fetch(reads, queries.page(all_levels, frozenset(values)), values)


def linked(row: Row) -> dict[str, Any]:
    """A row of queries.ONE or a page as the activity's fields, its asset ids sorted (as every
    answer lists them)."""
    return dict(row) | {"asset_ids": sorted(row["asset_ids"] or ())}


def matching(
    organisation_id: uuid.UUID, *, all_levels: bool, filters: ActivityFilters
) -> SelectOfScalar[Activity]:
    """The organisation's activities (or its whole subtree's) that pass the filters,
    unordered: a page and a CSV export select the same rows. The caller's scope covers the
    subtree of any organisation it may see."""
    statement = select(Activity).where(
        organisation_scope(col(Activity.organisation_id), organisation_id, all_levels=all_levels)
    )
    area, status, activity_type = filters.area, filters.status, filters.activity_type
    if area is not None:
        statement = statement.where(Activity.area == area.value)
    if status is not None:
        statement = statement.where(Activity.status == status.value)
    if activity_type is not None:
        statement = statement.where(Activity.activity_type == activity_type.value)
    return statement


async def create(
    session: AsyncSession, *, principal: Principal, organisation_id: uuid.UUID, data: ActivityCreate
) -> LinkedActivity:
    await access.organisation(reads_in(session), principal, organisation_id, need=Role.EDITOR)
    if data.capability_key is not None:
        await reference_service.require_capability(session, key=data.capability_key, area=data.area)
    await _check_assets(
        session, principal, organisation_id=organisation_id, asset_ids=data.asset_ids
    )
    asset_ids = list(dict.fromkeys(data.asset_ids))
    values = data.model_dump(exclude={"asset_ids"})
    values["evidence"] = stored_links(data.evidence)
    activity = Activity(organisation_id=organisation_id, **values)
    session.add(activity)
    session.add_all(ActivityAsset(activity_id=activity.id, asset_id=a) for a in asset_ids)
    await session.flush()
    audit.row_change(
        session,
        principal,
        AuditAction.CREATE,
        ResourceType.ACTIVITY,
        activity,
        {},
        _fields(activity, asset_ids),
    )
    return LinkedActivity(activity, sorted(asset_ids))


async def update(
    session: AsyncSession,
    *,
    principal: Principal,
    activity_id: uuid.UUID,
    data: ActivityUpdate,
    expected: ExpectedVersion,
) -> LinkedActivity:
    activity = await _for_write(session, principal, activity_id, expected)
    updates = data.model_dump(exclude_unset=True)
    start = updates.get("start_date", activity.start_date)
    end = updates.get("end_date", activity.end_date)
    if start is not None and end is not None and end < start:
        raise ValidationFailed(
            "endDate must not be before startDate.",
            errors=[FieldIssue("end_date", f"{end} is before the start date {start}.")],
        )
    area = Area(updates.get("area", activity.area))
    key = updates.get("capability_key", activity.capability_key)
    if key is not None and ("capability_key" in updates or "area" in updates):
        await reference_service.require_capability(session, key=key, area=area)
    current_links = (await links_of(session, [activity_id]))[activity_id]
    asset_ids = updates.pop("asset_ids", None)
    if asset_ids is not None:
        await _check_assets(
            session, principal, organisation_id=activity.organisation_id, asset_ids=asset_ids
        )
        asset_ids = sorted(set(asset_ids))
    links_changed = asset_ids is not None and asset_ids != current_links
    if "evidence" in updates:
        updates["evidence"] = stored_links(data.evidence or [])
    before = _fields(activity, current_links)
    if records.apply(activity, updates, also_changed=links_changed):
        after_links = asset_ids if asset_ids is not None else current_links
        audit.row_change(
            session,
            principal,
            AuditAction.UPDATE,
            ResourceType.ACTIVITY,
            activity,
            before,
            _fields(activity, after_links),
        )
    if links_changed:
        await session.exec(
            sql_delete(ActivityAsset).where(col(ActivityAsset.activity_id) == activity_id)
        )
        session.add_all(ActivityAsset(activity_id=activity_id, asset_id=a) for a in asset_ids or [])
    await session.flush()
    return LinkedActivity(activity, asset_ids if asset_ids is not None else current_links)


async def delete(
    session: AsyncSession,
    *,
    principal: Principal,
    activity_id: uuid.UUID,
    expected: ExpectedVersion,
) -> None:
    activity = await _for_write(session, principal, activity_id, expected)
    links = (await links_of(session, [activity_id]))[activity_id]
    audit.row_change(
        session,
        principal,
        AuditAction.DELETE,
        ResourceType.ACTIVITY,
        activity,
        _fields(activity, links),
        {},
    )
    await session.delete(activity)
    await session.flush()


def _missing(activity_id: uuid.UUID) -> NotFound:
    return NotFound(f"Activity {activity_id} does not exist.")


async def _for_write(
    session: AsyncSession,
    principal: Principal,
    activity_id: uuid.UUID,
    expected: ExpectedVersion,
) -> Activity:
    activity = await records.get_or_404(session, Activity, activity_id, for_update=True)
    await access.within(
        reads_in(session),
        principal,
        activity.organisation_id,
        need=Role.EDITOR,
        missing=_missing(activity_id),
    )
    expected.check(current=activity.version, what=f"Activity {activity_id}")
    return activity


def _fields(activity: Activity, asset_ids: Sequence[uuid.UUID]) -> dict[str, Any]:
    return activity.model_dump() | {"asset_ids": sorted(asset_ids)}


async def _check_assets(
    session: AsyncSession,
    principal: Principal,
    *,
    organisation_id: uuid.UUID,
    asset_ids: list[uuid.UUID],
) -> None:
    """Each asset must belong to the organisation or to one above it (e.g. its ICS), within
    the caller's scope: an asset the caller cannot see is "no such asset".

    Checked under the tree lock (shared), as moves are (exclusive): otherwise a move committed
    between this check and our commit could leave a link to an asset no longer above."""
    if not asset_ids:
        return
    await hierarchy.lock_tree(session, shared=True)
    allowed = await linkable_owners(session, principal, organisation_id)
    rows = await session.exec(
        select(Asset.id, Asset.organisation_id).where(col(Asset.id).in_(asset_ids))
    )
    owner = dict(rows.all())
    seen = await access.visible_among(session, principal, set(owner.values()))
    check_links(asset_ids, owners=owner, allowed=allowed, seen=seen)


async def linkable_owners(
    session: AsyncSession, principal: Principal, organisation_id: uuid.UUID
) -> list[uuid.UUID]:
    """Whose assets an activity of the organisation may use: its own and those above it, up to
    the caller's scope (nothing above that exists for the caller)."""
    allowed = await hierarchy.ancestor_ids(reads_in(session), organisation_id, include_self=True)
    if principal.organisation_id in allowed:
        allowed = allowed[: allowed.index(principal.organisation_id) + 1]
    return allowed


def check_links(
    asset_ids: Sequence[uuid.UUID],
    *,
    owners: Mapping[uuid.UUID, uuid.UUID],
    allowed: Collection[uuid.UUID],
    seen: Collection[uuid.UUID],
) -> None:
    """The rule of _check_assets on data already read (a bulk import reads it a batch at a
    time): ``owners`` maps each existing asset to its organisation; ``seen`` are the owners the
    caller can see."""
    issues = link_issues("asset_ids", "asset", asset_ids, owners=owners, allowed=allowed, seen=seen)
    if issues:
        raise ValidationFailed("Some assetIds cannot be linked to this activity.", errors=issues)


def link_issues(
    field: str,
    what: str,
    ids: Sequence[uuid.UUID],
    *,
    owners: Mapping[uuid.UUID, uuid.UUID],
    allowed: Collection[uuid.UUID],
    seen: Collection[uuid.UUID],
) -> list[FieldIssue]:
    """What may be linked, for an activity's assets and a plan item's assets and activities
    alike: a record of the organisation or of one above it; one whose owner the caller cannot
    see is "no such" record, so a refusal never tells that it exists."""
    return [
        FieldIssue(
            (field, index),
            f"No such {what}."
            if owners.get(record_id) not in seen
            else f"The {what} belongs to an organisation that is neither this one nor above it.",
        )
        for index, record_id in enumerate(ids)
        if owners.get(record_id) not in allowed
    ]


async def links_of(
    session: AsyncSession, activity_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    return await records.children(
        session, col(ActivityAsset.activity_id), col(ActivityAsset.asset_id), activity_ids
    )
