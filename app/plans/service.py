"""Plan item use cases; all plan item data access goes through here. Services flush; the
request's unit of work commits."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from app import records
from app.audit import service as audit
from app.auth import access
from app.auth.principal import Principal
from app.db import ReadContext, Row, Rows, fetch, reads_in
from app.errors import Conflict, FieldIssue, NotFound, ValidationFailed
from app.models import PlanItem, PlanItemActivity, PlanItemAsset
from app.pagination import PageParams, page_values
from app.plans import links, queries
from app.plans.schemas import PlanItemCreate, PlanItemFilters, PlanItemUpdate
from app.records import ExpectedVersion
from app.reference import service as reference_service
from app.reference.schemas import ReferenceModelPublic
from app.vocabulary import AuditAction, OrganisationType, ResourceType, Role, is_overdue


@dataclass(frozen=True)
class LinkedPlanItem:
    item: PlanItem
    asset_ids: list[uuid.UUID]
    activity_ids: list[uuid.UUID]

    @property
    def id(self) -> uuid.UUID:
        return self.item.id

    @property
    def created_at(self) -> datetime:
        return self.item.created_at

    def fields(self) -> dict[str, Any]:
        """The item as its wire form and its audit trail show it (links sorted)."""
        values: dict[str, Any] = self.item.model_dump()
        return values | {
            "asset_ids": sorted(self.asset_ids),
            "activity_ids": sorted(self.activity_ids),
        }


def today() -> date:
    """The date overdue is judged on: UTC's, as every timestamp here is."""
    return datetime.now(UTC).date()


def linked(row: Row | Mapping[str, Any], *, on: date | None = None) -> dict[str, Any]:
    """A row of queries.ONE or a page (or an item's fields) as the wire form's values: links
    sorted, and whether it is overdue today."""
    values = dict(row)
    return values | {
        "asset_ids": sorted(values["asset_ids"] or ()),
        "activity_ids": sorted(values["activity_ids"] or ()),
        "overdue": is_overdue(values["due_date"], str(values["status"]), on or today()),
    }


async def get(reads: ReadContext, plan_item_id: uuid.UUID, *, principal: Principal) -> Row:
    rows = await fetch(reads, queries.ONE, {"plan_item_id": plan_item_id})
    if not rows:
        raise _missing(plan_item_id)
    await access.within(
        reads, principal, rows[0]["organisation_id"], missing=_missing(plan_item_id)
    )
    return rows[0]


def filter_values(filters: PlanItemFilters, *, on: date) -> dict[str, Any]:
    """The list filters as the prebuilt page's parameters (overdue judged on ``on``)."""
    values: dict[str, Any] = filters.model_dump(exclude_none=True, exclude={"overdue"}, mode="json")
    if filters.overdue is not None:
        values["overdue_on" if filters.overdue else "current_on"] = on
    return values


async def list_page(
    reads: ReadContext,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    page: PageParams,
    filters: PlanItemFilters,
    all_levels: bool = False,
) -> Rows:
    """A page's rows, and one more when another page follows; ``linked`` makes each a record."""
    await access.organisation(reads, principal, organisation_id)
    values = filter_values(filters, on=today()) | page_values(page)
    values["organisation_id"] = organisation_id
    return await fetch(reads, queries.page(all_levels, frozenset(values)), values)


def matching(
    organisation_id: uuid.UUID, *, all_levels: bool, filters: PlanItemFilters, on: date
) -> SelectOfScalar[PlanItem]:
    """The organisation's plan items (or its whole subtree's) that pass the filters, unordered:
    a page and a CSV export select the same rows."""
    values = filter_values(filters, on=on) | {"organisation_id": organisation_id}
    statement = select(PlanItem).where(*queries.conditions(all_levels, frozenset(values)))
    return statement.params(values)


def check_capability(
    model: ReferenceModelPublic, *, key: str, organisation_type: OrganisationType
) -> None:
    """An item acts on a capability of the current default model that applies to the
    organisation's type; 422 naming the key otherwise. Only the check is made now: a later
    model never invalidates a stored item."""
    capability = next((c for c in model.capabilities if c.key == key), None)
    if capability is None:
        raise ValidationFailed(
            f"capabilityKey {key!r} is not in reference model {model.version}.",
            errors=[FieldIssue("capability_key", f"Unknown capability {key!r}.")],
        )
    if not capability.applies(organisation_type):
        raise ValidationFailed(
            f"Capability {key!r} does not apply to organisations of type "
            f"{organisation_type.value}.",
            errors=[
                FieldIssue(
                    "capability_key",
                    f"{key!r} does not apply to a {organisation_type.value}.",
                )
            ],
        )


async def _require_capability(session: AsyncSession, *, key: str, organisation_type: Any) -> None:
    model = await reference_service.get(session)
    check_capability(model, key=key, organisation_type=OrganisationType(organisation_type))


async def create(
    session: AsyncSession, *, principal: Principal, organisation_id: uuid.UUID, data: PlanItemCreate
) -> LinkedPlanItem:
    organisation = await access.organisation(
        reads_in(session), principal, organisation_id, need=Role.EDITOR
    )
    await _require_capability(
        session, key=data.capability_key, organisation_type=organisation["organisation_type"]
    )
    await links.check(
        session,
        principal,
        organisation_id=organisation_id,
        asset_ids=data.asset_ids,
        activity_ids=data.activity_ids,
    )
    if data.external_id is not None:
        await _external_id_free(session, organisation_id, data.external_id)
    asset_ids = sorted(set(data.asset_ids))
    activity_ids = sorted(set(data.activity_ids))
    item = PlanItem(
        organisation_id=organisation_id,
        **data.model_dump(exclude={"asset_ids", "activity_ids"}),
    )
    session.add(item)
    session.add_all(PlanItemAsset(plan_item_id=item.id, asset_id=a) for a in asset_ids)
    session.add_all(PlanItemActivity(plan_item_id=item.id, activity_id=a) for a in activity_ids)
    await session.flush()
    created = LinkedPlanItem(item, asset_ids, activity_ids)
    audit.row_change(
        session, principal, AuditAction.CREATE, ResourceType.PLAN_ITEM, item, {}, created.fields()
    )
    return created


async def update(
    session: AsyncSession,
    *,
    principal: Principal,
    plan_item_id: uuid.UUID,
    data: PlanItemUpdate,
    expected: ExpectedVersion,
) -> LinkedPlanItem:
    item = await _for_write(session, principal, plan_item_id, expected)
    updates = data.model_dump(exclude_unset=True)
    if "capability_key" in updates and updates["capability_key"] != item.capability_key:
        organisation = await access.organisation(reads_in(session), principal, item.organisation_id)
        await _require_capability(
            session,
            key=updates["capability_key"],
            organisation_type=organisation["organisation_type"],
        )
    if updates.get("external_id") not in (None, item.external_id):
        await _external_id_free(session, item.organisation_id, updates["external_id"])
    current = await _links(session, item)
    asset_ids = updates.pop("asset_ids", None)
    activity_ids = updates.pop("activity_ids", None)
    if asset_ids is not None or activity_ids is not None:
        await links.check(
            session,
            principal,
            organisation_id=item.organisation_id,
            asset_ids=asset_ids or [],
            activity_ids=activity_ids or [],
        )
    after = LinkedPlanItem(
        item,
        sorted(set(asset_ids)) if asset_ids is not None else current.asset_ids,
        sorted(set(activity_ids)) if activity_ids is not None else current.activity_ids,
    )
    assets_changed = after.asset_ids != current.asset_ids
    activities_changed = after.activity_ids != current.activity_ids
    before = current.fields()
    if records.apply(item, updates, also_changed=assets_changed or activities_changed):
        audit.row_change(
            session,
            principal,
            AuditAction.UPDATE,
            ResourceType.PLAN_ITEM,
            item,
            before,
            after.fields(),
        )
    if assets_changed:
        await session.exec(
            sql_delete(PlanItemAsset).where(col(PlanItemAsset.plan_item_id) == plan_item_id)
        )
        session.add_all(
            PlanItemAsset(plan_item_id=plan_item_id, asset_id=a) for a in after.asset_ids
        )
    if activities_changed:
        await session.exec(
            sql_delete(PlanItemActivity).where(col(PlanItemActivity.plan_item_id) == plan_item_id)
        )
        session.add_all(
            PlanItemActivity(plan_item_id=plan_item_id, activity_id=a) for a in after.activity_ids
        )
    await session.flush()
    return after


async def delete(
    session: AsyncSession,
    *,
    principal: Principal,
    plan_item_id: uuid.UUID,
    expected: ExpectedVersion,
) -> None:
    item = await _for_write(session, principal, plan_item_id, expected)
    current = await _links(session, item)
    audit.row_change(
        session,
        principal,
        AuditAction.DELETE,
        ResourceType.PLAN_ITEM,
        item,
        current.fields(),
        {},
    )
    await session.delete(item)
    await session.flush()


def _missing(plan_item_id: uuid.UUID) -> NotFound:
    return NotFound(f"Plan item {plan_item_id} does not exist.")


async def _for_write(
    session: AsyncSession,
    principal: Principal,
    plan_item_id: uuid.UUID,
    expected: ExpectedVersion,
) -> PlanItem:
    item = await records.get_or_404(session, PlanItem, plan_item_id, for_update=True)
    await access.within(
        reads_in(session),
        principal,
        item.organisation_id,
        need=Role.EDITOR,
        missing=_missing(plan_item_id),
    )
    expected.check(current=item.version, what=f"Plan item {plan_item_id}")
    return item


async def _external_id_free(
    session: AsyncSession, organisation_id: uuid.UUID, external_id: str
) -> None:
    taken = await session.exec(
        select(PlanItem.id).where(
            PlanItem.organisation_id == organisation_id, PlanItem.external_id == external_id
        )
    )
    other = taken.first()
    if other is not None:
        raise Conflict(
            f"externalId {external_id!r} is already the key of plan item {other} in this "
            "organisation."
        )


async def _links(session: AsyncSession, item: PlanItem) -> LinkedPlanItem:
    assets = await links.assets_of(session, [item.id])
    activities = await links.activities_of(session, [item.id])
    return LinkedPlanItem(item, assets[item.id], activities[item.id])
