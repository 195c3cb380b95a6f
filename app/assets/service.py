"""Asset use cases; all asset data access goes through here. Services flush; the request's
unit of work commits."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from app import records
from app.assets.schemas import AssetCreate, AssetFilters, AssetUpdate, proof_issues, stored_links
from app.auth import access, audit
from app.auth.principal import Principal
from app.auth.vocabulary import AuditAction, ResourceType, Role
from app.errors import FieldIssue, NotFound, ValidationFailed
from app.models import Asset, AssetTag
from app.organisations.hierarchy import organisation_scope
from app.pagination import PageParams, keyset
from app.records import ExpectedVersion
from app.reference import service as reference_service
from app.vocabulary import Area, Confidence


@dataclass(frozen=True)
class TaggedAsset:
    asset: Asset
    tags: list[str]

    @property
    def id(self) -> uuid.UUID:
        return self.asset.id

    @property
    def created_at(self) -> datetime:
        return self.asset.created_at


async def get(session: AsyncSession, asset_id: uuid.UUID, *, principal: Principal) -> TaggedAsset:
    asset = await records.get_or_404(session, Asset, asset_id)
    await access.within(session, principal, asset.organisation_id, missing=_missing(asset_id))
    return TaggedAsset(asset, (await tags_of(session, [asset.id]))[asset.id])


def _missing(asset_id: uuid.UUID) -> NotFound:
    return NotFound(f"Asset {asset_id} does not exist.")


async def _for_write(
    session: AsyncSession, principal: Principal, asset_id: uuid.UUID, expected: ExpectedVersion
) -> Asset:
    asset = await records.get_or_404(session, Asset, asset_id, for_update=True)
    await access.within(
        session, principal, asset.organisation_id, need=Role.EDITOR, missing=_missing(asset_id)
    )
    expected.check(current=asset.version, what=f"Asset {asset_id}")
    return asset


async def list_page(
    session: AsyncSession,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    page: PageParams,
    filters: AssetFilters,
    all_levels: bool = False,
) -> Sequence[TaggedAsset]:
    await access.organisation(session, principal, organisation_id)
    statement = keyset(
        matching(organisation_id, all_levels=all_levels, filters=filters),
        created_at=col(Asset.created_at),
        row_id=col(Asset.id),
        params=page,
    )
    assets = (await session.exec(statement)).all()
    tags = await tags_of(session, [asset.id for asset in assets])
    return [TaggedAsset(asset, tags[asset.id]) for asset in assets]


def matching(
    organisation_id: uuid.UUID, *, all_levels: bool, filters: AssetFilters
) -> SelectOfScalar[Asset]:
    """The organisation's assets (or, with all_levels, its whole subtree's) that pass the
    filters, unordered: a page and a CSV export select the same rows. The caller's scope
    covers the subtree of any organisation it may see."""
    statement = select(Asset).where(
        organisation_scope(col(Asset.organisation_id), organisation_id, all_levels=all_levels)
    )
    area, capability_key, tag = filters.area, filters.capability_key, filters.tag
    min_maturity, max_maturity = filters.min_maturity, filters.max_maturity
    if area is not None:
        statement = statement.where(Asset.area == area.value)
    if capability_key is not None:
        statement = statement.where(Asset.capability_key == capability_key)
    if min_maturity is not None:
        statement = statement.where(Asset.maturity >= min_maturity)
    if max_maturity is not None:
        statement = statement.where(Asset.maturity <= max_maturity)
    if tag is not None:
        statement = statement.where(
            col(Asset.id).in_(select(AssetTag.asset_id).where(AssetTag.tag == tag.lower()))
        )
    return statement


async def create(
    session: AsyncSession, *, principal: Principal, organisation_id: uuid.UUID, data: AssetCreate
) -> TaggedAsset:
    await access.organisation(session, principal, organisation_id, need=Role.EDITOR)
    if data.capability_key is not None:
        await reference_service.require_capability(session, key=data.capability_key, area=data.area)
    values = data.model_dump(exclude={"tags"})
    values["evidence"] = stored_links(data.evidence)
    require_proof(values)
    asset = Asset(organisation_id=organisation_id, **values)
    session.add(asset)
    session.add_all(AssetTag(asset_id=asset.id, tag=tag) for tag in data.tags)
    await session.flush()
    audit.row_change(
        session,
        principal,
        AuditAction.CREATE,
        ResourceType.ASSET,
        asset,
        {},
        _fields(asset, data.tags),
    )
    return TaggedAsset(asset, data.tags)


async def update(
    session: AsyncSession,
    *,
    principal: Principal,
    asset_id: uuid.UUID,
    data: AssetUpdate,
    expected: ExpectedVersion,
) -> TaggedAsset:
    asset = await _for_write(session, principal, asset_id, expected)
    updates = data.model_dump(exclude_unset=True)
    area = Area(updates.get("area", asset.area))
    key = updates.get("capability_key", asset.capability_key)
    if key is not None and ("capability_key" in updates or "area" in updates):
        await reference_service.require_capability(session, key=key, area=area)
    current_tags = (await tags_of(session, [asset_id]))[asset_id]
    tags = updates.pop("tags", None)
    tags_changed = tags is not None and tags != current_tags
    if "evidence" in updates:
        updates["evidence"] = stored_links(data.evidence or [])
    require_proof({field: updates.get(field, getattr(asset, field)) for field in PROOF_FIELDS})
    before = _fields(asset, current_tags)
    if records.apply(asset, updates, also_changed=tags_changed):
        after_tags = tags if tags is not None else current_tags
        audit.row_change(
            session,
            principal,
            AuditAction.UPDATE,
            ResourceType.ASSET,
            asset,
            before,
            _fields(asset, after_tags),
        )
    if tags_changed:
        await session.exec(sql_delete(AssetTag).where(col(AssetTag.asset_id) == asset_id))
        session.add_all(AssetTag(asset_id=asset_id, tag=tag) for tag in tags or [])
    await session.flush()
    return TaggedAsset(asset, tags if tags is not None else current_tags)


async def delete(
    session: AsyncSession, *, principal: Principal, asset_id: uuid.UUID, expected: ExpectedVersion
) -> None:
    asset = await _for_write(session, principal, asset_id, expected)
    tags = (await tags_of(session, [asset_id]))[asset_id]
    audit.row_change(
        session, principal, AuditAction.DELETE, ResourceType.ASSET, asset, _fields(asset, tags), {}
    )
    # Tags and links from activities go with it through ON DELETE CASCADE.
    await session.delete(asset)
    await session.flush()


def _fields(asset: Asset, tags: list[str]) -> dict[str, Any]:
    return asset.model_dump() | {"tags": tags}


PROOF_FIELDS = ("confidence", "evidence", "reviewed_by", "reviewed_at")


def require_proof(values: Mapping[str, Any]) -> None:
    """The record as it would be stored must prove its confidence (a PATCH is checked against
    the merged record: dropping the last link of an 'evidenced' asset is refused too)."""
    issues = proof_issues(
        Confidence(values["confidence"]),
        values["evidence"],
        values["reviewed_by"],
        values["reviewed_at"],
    )
    if issues:
        raise ValidationFailed(
            "The asset's confidence is not backed by what it needs.",
            errors=[FieldIssue(field, text) for field, text in issues.items()],
        )


async def tags_of(session: AsyncSession, asset_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    return await records.children(session, col(AssetTag.asset_id), col(AssetTag.tag), asset_ids)
