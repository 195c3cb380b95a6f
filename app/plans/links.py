"""What a plan item may link: assets and activities of its organisation or of one above it,
within the caller's scope, as an activity's assets are; and the links as stored."""

import uuid
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import records
from app.activities import service as activities_service
from app.auth import access
from app.auth.principal import Principal
from app.errors import FieldIssue, ValidationFailed
from app.models import Activity, Asset, PlanItemActivity, PlanItemAsset
from app.organisations import hierarchy


async def check(
    session: AsyncSession,
    principal: Principal,
    *,
    organisation_id: uuid.UUID,
    asset_ids: list[uuid.UUID],
    activity_ids: list[uuid.UUID],
) -> None:
    """Each linked asset and activity must belong to the organisation or to one above it,
    within the caller's scope, as an activity's assets must (under the same shared tree lock,
    so that no move strands the link); one the caller cannot see is "no such" record."""
    if not asset_ids and not activity_ids:
        return
    await hierarchy.lock_tree(session, shared=True)
    allowed = await activities_service.linkable_owners(session, principal, organisation_id)
    issues: list[FieldIssue] = []
    for field, table, ids, what in (
        ("asset_ids", Asset, asset_ids, "asset"),
        ("activity_ids", Activity, activity_ids, "activity"),
    ):
        if not ids:
            continue
        table_: Any = table
        rows = await session.exec(
            select(table_.id, table_.organisation_id).where(col(table_.id).in_(ids))
        )
        owners = dict(rows.all())
        seen = await access.visible_among(session, principal, set(owners.values()))
        issues += activities_service.link_issues(
            field, what, ids, owners=owners, allowed=allowed, seen=seen
        )
    if issues:
        raise ValidationFailed(
            "Some linked records cannot be linked to this plan item.", errors=issues
        )


async def assets_of(
    session: AsyncSession, plan_item_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    return await records.children(
        session, col(PlanItemAsset.plan_item_id), col(PlanItemAsset.asset_id), plan_item_ids
    )


async def activities_of(
    session: AsyncSession, plan_item_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    return await records.children(
        session,
        col(PlanItemActivity.plan_item_id),
        col(PlanItemActivity.activity_id),
        plan_item_ids,
    )
