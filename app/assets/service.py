"""Asset use cases; all asset data access goes through here. The request's unit of work
commits.

A create, an update and a delete leave their rows to the commit's own flush, not a flush of
their own: the asset's statement fires the trigger that bumps its organisation's revision,
whose row lock every other writer of that organisation then waits on until COMMIT. Flushed at
the commit, the asset, its tags and the audit event go out back to back with the COMMIT; a
flush here held the lock while the route built its answer and the audit event went out in a
round trip of its own (writers of one organisation waited on it in the benchmark's profile).
A create, whose audit event needs nothing from the database, sends the event first: the
asset's INSERT and its tags are then all that stands between the lock and the COMMIT.
Errors are the same: the commit runs before the answer is sent, and a constraint it breaks
is the same problem as at a flush."""

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app import records
from app.assets import queries
from app.assets.schemas import (
    AssetCreate,
    AssetFilters,
    AssetUpdate,
    proof_issues,
    stored_links,
)
from app.audit import service as audit
from app.auth import access
from app.auth.principal import Principal
from app.db import ReadContext, Rows, fetch, reads_in
from app.errors import FieldIssue, NotFound, ValidationFailed
from app.models import Asset, AssetTag
from app.pagination import PageParams, page_values
from app.records import ExpectedVersion
from app.reference import service as reference_service
from app.vocabulary import Area, AuditAction, Confidence, ResourceType, Role


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


async def get(
    reads: ReadContext, asset_id: uuid.UUID, *, principal: Principal
) -> Mapping[Any, Any]:
    """The asset's row: its columns, its tags and its evidence as JSON text (app.assets.answers
    makes it an answer)."""
    rows = await fetch(reads, queries.ONE, {"asset_id": asset_id})
    if not rows:
        raise _missing(asset_id)
    await access.within(reads, principal, rows[0]["organisation_id"], missing=_missing(asset_id))
    return rows[0]


def _missing(asset_id: uuid.UUID) -> NotFound:
    return NotFound(f"Asset {asset_id} does not exist.")


async def _for_write(
    session: AsyncSession, principal: Principal, asset_id: uuid.UUID, expected: ExpectedVersion
) -> Asset:
    asset = await records.get_or_404(session, Asset, asset_id, for_update=True)
    await access.within(
        reads_in(session),
        principal,
        asset.organisation_id,
        need=Role.EDITOR,
        missing=_missing(asset_id),
    )
    expected.check(current=asset.version, what=f"Asset {asset_id}")
    return asset


async def list_page(
    reads: ReadContext,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    page: PageParams,
    filters: AssetFilters,
    all_levels: bool = False,
) -> Rows:
    """A page's rows, and one more when another page follows (app.assets.answers makes each
    an item)."""
    await access.organisation(reads, principal, organisation_id)
    values = filter_values(filters) | page_values(page) | {"organisation_id": organisation_id}
    return await fetch(reads, queries.page(all_levels, frozenset(values)), values)


async def list_everywhere(
    reads: ReadContext, *, principal: Principal, page: PageParams, filters: AssetFilters
) -> Rows:
    """A page of every asset the caller can read: a global caller's, every organisation's; a
    scoped caller's, its scope's subtree (the same rows as that organisation's list with
    depth=all)."""
    values = filter_values(filters) | page_values(page)
    if principal.organisation_id is None:
        return await fetch(reads, queries.everywhere(frozenset(values)), values)
    values["organisation_id"] = principal.organisation_id
    return await fetch(reads, queries.page(True, frozenset(values)), values)


def filter_values(filters: AssetFilters) -> dict[str, Any]:
    """The filters given, as the values of queries.conditions' parameters (a page and an
    export name the same ones)."""
    values = {
        "area": filters.area.value if filters.area is not None else None,
        "capability_key": filters.capability_key,
        "min_maturity": filters.min_maturity,
        "max_maturity": filters.max_maturity,
        "tag": filters.tag.lower() if filters.tag is not None else None,
    }
    return {name: value for name, value in values.items() if value is not None}


def tags_and_evidence(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of queries.ONE or a page with its tags sorted and its evidence parsed."""
    return dict(row) | {"tags": sorted_tags(row), "evidence": evidence_of(row)}


def sorted_tags(row: Mapping[str, Any]) -> list[str]:
    """A row's tags, sorted here, not in SQL (PostgreSQL's collation would order "a-b" and
    "a.b" differently)."""
    return sorted(row["tags"] or ())


def evidence_of(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The evidence links of a row of queries.ONE or a page, which has them as JSON text."""
    text = row["evidence"]
    if not text or text == "[]":
        return []
    links: list[dict[str, Any]] = json.loads(text)
    return links


async def create(
    session: AsyncSession, *, principal: Principal, organisation_id: uuid.UUID, data: AssetCreate
) -> TaggedAsset:
    await access.organisation(reads_in(session), principal, organisation_id, need=Role.EDITOR)
    if data.capability_key is not None:
        await reference_service.require_capability(session, key=data.capability_key, area=data.area)
    values = data.model_dump(exclude={"tags"})
    values["evidence"] = stored_links(data.evidence)
    require_proof(values)
    asset = Asset(organisation_id=organisation_id, **values)
    audit.row_change(
        session,
        principal,
        AuditAction.CREATE,
        ResourceType.ASSET,
        asset,
        {},
        _fields(asset, data.tags),
    )
    # The event goes out now, before the asset takes the revision's lock (see above).
    await session.flush()
    session.add(asset)
    session.add_all(AssetTag(asset_id=asset.id, tag=tag) for tag in data.tags)
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
    if tags_changed:
        # Before the asset changes: this statement would flush the asset's UPDATE (and take
        # the revision's lock) a round trip earlier than the commit.
        await session.exec(sql_delete(AssetTag).where(col(AssetTag.asset_id) == asset_id))
        session.add_all(AssetTag(asset_id=asset_id, tag=tag) for tag in tags or [])
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
