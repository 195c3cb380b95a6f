"""Asset use cases; all asset data access goes through here. Services flush; the request's
unit of work commits."""

import json
import uuid
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    Select,
    Table,
    Text,
    Uuid,
    and_,
    bindparam,
    func,
    or_,
    type_coerce,
)
from sqlalchemy import cast as sa_cast
from sqlalchemy import delete as sql_delete
from sqlalchemy import select as sa_select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app import records
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
from app.auth.scope import covers
from app.db import Rows, Sessions, UTCDateTime, fetch_mappings
from app.errors import FieldIssue, NotFound, ValidationFailed
from app.models import Asset, AssetTag
from app.organisations.hierarchy import organisation_scope
from app.pagination import PageParams, decode_cursor
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


def _with_tags(dialect: str) -> Select[Any]:
    """Every asset column and the asset's tags, in one row: no ORM objects and no second
    query (a read of one asset spent most of its time building ORM objects for two queries)."""
    asset, tag = _ASSET.c, _TAG.c
    tags_of_asset = sa_select(tag.tag).where(tag.asset_id == asset.id)
    if dialect == "postgresql":
        tags: ColumnElement[Any] = func.array(tags_of_asset.scalar_subquery())
    else:
        tags = type_coerce(
            sa_select(func.json_group_array(tag.tag))
            .where(tag.asset_id == asset.id)
            .scalar_subquery(),
            JSON,
        )
    # The evidence as its JSON text: the driver's JSON decoding (a Python call per row, in
    # SQLAlchemy's codec) cost 7% of a page in which most assets have none; parsed in
    # ``evidence_of`` only when there is some.
    columns = [c if c.name != "evidence" else sa_cast(c, Text).label("evidence") for c in asset]
    return sa_select(*columns, tags.label("tags"))


_ASSET = cast(Table, Asset.__table__)  # type: ignore[attr-defined]
_TAG = cast(Table, AssetTag.__table__)  # type: ignore[attr-defined]
# The hot reads' statements, built once per database kind and shape, with named parameters:
# building a select (and its cache key) cost more than running it.
_STATEMENTS: dict[Hashable, Select[Any]] = {}


def _statement(key: Hashable, build: Callable[[], Select[Any]]) -> Select[Any]:
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = build()
    return statement


async def get(
    sessions: Sessions, asset_id: uuid.UUID, *, principal: Principal
) -> Mapping[Any, Any]:
    """The asset's row: its columns, its tags and its evidence as JSON text (app.assets.answers
    makes it an answer)."""
    dialect = sessions.reader.dialect.name
    statement = _statement(
        ("one", dialect),
        lambda: _with_tags(dialect).where(_ASSET.c.id == bindparam("asset_id")),
    )
    rows = await fetch_mappings(sessions, statement, {"asset_id": asset_id})
    if not rows or not await covers(sessions, principal, rows[0]["organisation_id"]):
        raise _missing(asset_id)
    return rows[0]


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
    sessions: Sessions,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    page: PageParams,
    filters: AssetFilters,
    all_levels: bool = False,
) -> Rows:
    """A page's rows, and one more when another page follows (app.assets.answers makes each
    an item)."""
    await access.readable_organisation(sessions, principal, organisation_id)
    values = _filter_values(filters) | {
        "organisation_id": organisation_id,
        "limit": page.limit + 1,  # one more, to know whether another page follows
    }
    if page.cursor is not None:
        values["after_created"], values["after_id"] = decode_cursor(page.cursor)
    given = frozenset(values)
    dialect = sessions.reader.dialect.name
    statement = _statement(
        ("page", dialect, all_levels, given), lambda: _page(dialect, all_levels, given)
    )
    return await fetch_mappings(sessions, statement, values)


def _page(dialect: str, all_levels: bool, given: frozenset[str]) -> Select[Any]:
    """A page of the list, for one combination of filters (``given``), with named parameters;
    oldest first on the (created_at, id) keyset."""
    created_at, row_id = _ASSET.c.created_at, _ASSET.c.id
    statement = _with_tags(dialect).where(
        *_conditions(bindparam("organisation_id", type_=Uuid), all_levels, given)
    )
    if "after_created" in given:
        after = bindparam("after_created", type_=UTCDateTime)
        statement = statement.where(
            or_(created_at > after, and_(created_at == after, row_id > bindparam("after_id")))
        )
    return statement.order_by(created_at, row_id).limit(bindparam("limit", type_=Integer))


def _conditions(
    organisation_id: Any, all_levels: bool, given: frozenset[str]
) -> list[ColumnElement[bool]]:
    """The list's filters, on named parameters: a page and a CSV export select the same rows."""
    asset = _ASSET.c
    conditions = [organisation_scope(asset.organisation_id, organisation_id, all_levels=all_levels)]
    if "area" in given:
        conditions.append(asset.area == bindparam("area"))
    if "capability_key" in given:
        conditions.append(asset.capability_key == bindparam("capability_key"))
    if "min_maturity" in given:
        conditions.append(asset.maturity >= bindparam("min_maturity"))
    if "max_maturity" in given:
        conditions.append(asset.maturity <= bindparam("max_maturity"))
    if "tag" in given:
        tag = _TAG.c
        conditions.append(asset.id.in_(sa_select(tag.asset_id).where(tag.tag == bindparam("tag"))))
    return conditions


def exported(
    dialect: str, organisation_id: uuid.UUID, *, all_levels: bool, filters: AssetFilters
) -> Select[Any]:
    """The organisation's assets (or, with all_levels, its whole subtree's) that pass the
    filters, with their tags, oldest first, for a CSV export (rows, not ORM objects: an
    export of 20,000 assets spent most of its time building and dropping them). The caller's
    scope covers the subtree of any organisation it may see."""
    values = _filter_values(filters)
    return (
        _with_tags(dialect)
        .where(*_conditions(organisation_id, all_levels, frozenset(values)))
        .order_by(_ASSET.c.created_at, _ASSET.c.id)
        .params(**values)
    )


def _filter_values(filters: AssetFilters) -> dict[str, Any]:
    """The filters given, as the values of ``_conditions``' parameters (a page and an export
    name the same ones)."""
    values = {
        "area": filters.area.value if filters.area is not None else None,
        "capability_key": filters.capability_key,
        "min_maturity": filters.min_maturity,
        "max_maturity": filters.max_maturity,
        "tag": filters.tag.lower() if filters.tag is not None else None,
    }
    return {name: value for name, value in values.items() if value is not None}


def tags_and_evidence(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of ``_with_tags`` with its tags sorted and its evidence parsed."""
    return dict(row) | {"tags": sorted_tags(row), "evidence": evidence_of(row)}


def sorted_tags(row: Mapping[str, Any]) -> list[str]:
    """A row's tags, sorted here, not in SQL (PostgreSQL's collation would order "a-b" and
    "a.b" differently)."""
    return sorted(row["tags"] or ())


def evidence_of(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The evidence links of a row of ``_with_tags``, which has them as JSON text."""
    text = row["evidence"]
    if not text or text == "[]":
        return []
    links: list[dict[str, Any]] = json.loads(text)
    return links


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
