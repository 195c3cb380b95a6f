"""The whole map of an organisation's subtree, out of one instance and into another.

``export_map`` reads everything in one snapshot; ``import_map`` writes it in one transaction,
with new ids (references inside the map follow), or, for a caller of the whole service that
asks for an exact restore, ids, timestamps and versions as they were, so that exporting the
imported map gives the same document. An import restores what the source held: rows written
before a rule existed (an 'evidenced' asset without a link) are kept, as the source kept them.
It refuses a map that clashes with what is already here (an ODS code, or a kept id, in use)
rather than merging two maps."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.assessments import service as assessments_service
from app.audit import service as audit
from app.auth import access
from app.auth.principal import Principal
from app.db import ReadContext, reads_in, side_transaction, utcnow
from app.models import (
    Activity,
    ActivityAsset,
    Assessment,
    Asset,
    AssetTag,
    Organisation,
    PlanItem,
    PlanItemActivity,
    PlanItemAsset,
    ReferenceModel,
)
from app.organisations import hierarchy
from app.reference.service import shipped_models
from app.transfer.map_import import restore
from app.transfer.map_schemas import (
    MapActivity,
    MapAssessment,
    MapAsset,
    MapDocument,
    MapImportResult,
    MapOrganisation,
    MapPlanItem,
    MapReferenceModel,
)
from app.vocabulary import ResourceType


async def export_map(
    reads: ReadContext, *, principal: Principal, organisation_id: uuid.UUID
) -> MapDocument:
    """The map, read in one snapshot, and the export on record (the API's and the CLI's)."""
    async with reads.snapshot() as session:
        document = await read_map(session, principal=principal, organisation_id=organisation_id)
    await audit.exported(
        reads,
        principal=principal,
        resource_type=ResourceType.MAP,
        organisation_id=organisation_id,
        details={"format": "json", "depth": "all"},
    )
    return document


async def import_map(
    reads: ReadContext, *, principal: Principal, document: MapDocument, keep_ids: bool = False
) -> MapImportResult:
    """For callers without a request's unit of work (the command line): a transaction of its
    own, committed here."""
    async with side_transaction(reads.factory()) as session:
        return await restore(session, principal=principal, document=document, keep_ids=keep_ids)


async def read_map(
    session: AsyncSession, *, principal: Principal, organisation_id: uuid.UUID
) -> MapDocument:
    """The map of an organisation the caller may see (its subtree is then in scope too)."""
    await access.organisation(reads_in(session), principal, organisation_id)
    tree = hierarchy.descendants(organisation_id, name="mapped")
    inside = select(tree.c.id)
    organisations = (
        await session.exec(select(Organisation).where(col(Organisation.id).in_(inside)))
    ).all()
    assets = (
        await session.exec(
            select(Asset)
            .where(col(Asset.organisation_id).in_(inside))
            .order_by(col(Asset.created_at), col(Asset.id))
        )
    ).all()
    activities = (
        await session.exec(
            select(Activity)
            .where(col(Activity.organisation_id).in_(inside))
            .order_by(col(Activity.created_at), col(Activity.id))
        )
    ).all()
    plan_items = (
        await session.exec(
            select(PlanItem)
            .where(col(PlanItem.organisation_id).in_(inside))
            .order_by(col(PlanItem.created_at), col(PlanItem.id))
        )
    ).all()
    # The snapshots the caller may read (as GET /assessments/{id} decides): a snapshot shows
    # what its analysis saw, which can reach above the organisation.
    statement = select(Assessment).where(col(Assessment.organisation_id).in_(inside))
    readable = assessments_service.readable(principal)
    if readable is not None:
        statement = statement.where(readable)
    assessments = (
        await session.exec(statement.order_by(col(Assessment.created_at), col(Assessment.id)))
    ).all()
    tags = await _grouped(
        session,
        select(AssetTag.asset_id, AssetTag.tag)
        .join(Asset, col(Asset.id) == col(AssetTag.asset_id))
        .where(col(Asset.organisation_id).in_(inside)),
    )
    links = await _grouped(
        session,
        select(ActivityAsset.activity_id, ActivityAsset.asset_id)
        .join(Activity, col(Activity.id) == col(ActivityAsset.activity_id))
        .where(col(Activity.organisation_id).in_(inside)),
    )
    plan_assets = await _grouped(
        session,
        select(PlanItemAsset.plan_item_id, PlanItemAsset.asset_id)
        .join(PlanItem, col(PlanItem.id) == col(PlanItemAsset.plan_item_id))
        .where(col(PlanItem.organisation_id).in_(inside)),
    )
    plan_activities = await _grouped(
        session,
        select(PlanItemActivity.plan_item_id, PlanItemActivity.activity_id)
        .join(PlanItem, col(PlanItem.id) == col(PlanItemActivity.plan_item_id))
        .where(col(PlanItem.organisation_id).in_(inside)),
    )
    shipped = {model.version for model in shipped_models()}
    pinned = {a.reference_model_version for a in assessments} - shipped
    # Only models usable in the map (everyone's, or a variant of the subtree or above it):
    # an assessment pinned to any other could only be a stray, and its model is not ours.
    above = await hierarchy.ancestor_ids(reads_in(session), organisation_id, include_self=True)
    models = (
        await session.exec(
            select(ReferenceModel)
            .where(
                col(ReferenceModel.version).in_(pinned),
                or_(
                    col(ReferenceModel.organisation_id).is_(None),
                    col(ReferenceModel.organisation_id).in_(above),
                    col(ReferenceModel.organisation_id).in_(inside),
                ),
            )
            .order_by(col(ReferenceModel.version))
        )
    ).all()
    return MapDocument(
        exported_at=utcnow(),
        root_id=organisation_id,
        organisations=await _organisations(session, principal, organisations, organisation_id),
        assets=[
            MapAsset.model_validate(a.model_dump() | {"tags": tags.get(a.id, [])}) for a in assets
        ],
        activities=[
            MapActivity.model_validate(a.model_dump() | {"asset_ids": links.get(a.id, [])})
            for a in activities
        ],
        plan_items=[
            MapPlanItem.model_validate(
                p.model_dump()
                | {
                    "asset_ids": plan_assets.get(p.id, []),
                    "activity_ids": plan_activities.get(p.id, []),
                }
            )
            for p in plan_items
        ],
        assessments=[MapAssessment.model_validate(a) for a in assessments],
        reference_models=[MapReferenceModel.model_validate(m) for m in models],
    )


async def _organisations(
    session: AsyncSession,
    principal: Principal,
    organisations: Sequence[Organisation],
    root_id: uuid.UUID,
) -> list[MapOrganisation]:
    """Parents first; the root's parent only when the caller may see it."""
    mapped = [MapOrganisation.model_validate(o) for o in _parents_first(organisations)]
    for organisation in mapped:
        parent = organisation.parent_id
        if (
            organisation.id == root_id
            and parent is not None
            and parent not in await access.visible_among(session, principal, {parent})
        ):
            organisation.parent_id = None
    return mapped


async def _grouped(session: AsyncSession, statement: Any) -> dict[uuid.UUID, list[Any]]:
    grouped: dict[uuid.UUID, list[Any]] = {}
    for parent, value in (await session.exec(statement)).all():
        grouped.setdefault(parent, []).append(value)
    # Sorted here, not in SQL, so both backends give the same order (see records.children).
    return {parent: sorted(values, key=str) for parent, values in grouped.items()}


def _parents_first(organisations: Sequence[Organisation]) -> list[Organisation]:
    """Breadth first from the root, each level in (createdAt, id) order."""
    ids = {o.id for o in organisations}
    level = [o for o in organisations if o.parent_id not in ids]
    ordered: list[Organisation] = []
    while level:
        level.sort(key=lambda o: (o.created_at, str(o.id)))
        ordered += level
        parents = {o.id for o in level}
        level = [o for o in organisations if o.parent_id in parents]
    return ordered
