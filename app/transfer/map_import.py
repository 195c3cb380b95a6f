"""Writing a whole-map document into this instance (see maps.py): check it holds together,
give it new ids (or check its own are free), settle its reference models, then insert it,
parents first, flushing in chunks."""

import uuid
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.audit import service as audit
from app.auth import access
from app.auth.principal import Principal
from app.db import reads_in
from app.errors import Conflict, FieldIssue, Forbidden, ValidationFailed
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
)
from app.organisations import hierarchy
from app.transfer import map_models
from app.transfer.map_ids import with_new_ids
from app.transfer.map_schemas import (
    MapActivity,
    MapAssessment,
    MapAsset,
    MapDocument,
    MapImportResult,
    MapOrganisation,
    MapPlanItem,
)
from app.vocabulary import AuditAction, ResourceType, Role

CHUNK = 500


async def restore(
    session: AsyncSession, *, principal: Principal, document: MapDocument, keep_ids: bool = False
) -> MapImportResult:
    """Insert the map in the caller's transaction (services flush, never commit). Who may:
    an editor of the organisation it is hung under, or, for a map that stands alone, a caller
    of the whole service (as for creating a top-level organisation). Every record gets a new
    id unless ``keep_ids`` (an exact restore, for a caller of the whole service: its scope is
    everything, so what a clash reveals is its own to know). Models the map carries enter
    through the reference-model gate. Every record is audited as created."""
    access.require_role(principal, Role.EDITOR)
    if keep_ids and not principal.is_global:
        raise Forbidden(
            "Keeping the map's ids (an exact restore) needs a credential for the whole "
            "service: import without keepIds to get a copy with new ids."
        )
    if not principal.can(Role.ADMIN) and any(
        o.benchmark_opt_out or o.is_demo for o in document.organisations
    ):
        # Whether an organisation counts in others' benchmarks is its admins' decision, on
        # this path as on PATCH (docs/security.md, "Benchmarks: the disclosure rule").
        raise Forbidden(
            "The map has organisations that are not counted in others' benchmarks "
            "(benchmarkOptOut or isDemo): that is their admins' decision, so importing it "
            "needs an admin's credential."
        )
    _check_shape(document)
    # Exclusive, as a move is: the new subtree is hung under an existing organisation.
    await hierarchy.lock_tree(session)
    root = next(o for o in document.organisations if o.id == document.root_id)
    parent_id = root.parent_id
    if (
        parent_id is not None
        and principal.is_global
        and await session.get(Organisation, parent_id) is None
    ):
        parent_id = None
    if parent_id is not None:
        # For a scoped caller a parent that is not here is one it cannot see: the same 404.
        await access.organisation(reads_in(session), principal, parent_id, need=Role.EDITOR)
    elif not principal.is_global:
        raise Forbidden(
            "Your credential is scoped to one organisation: a map that stands alone needs a "
            "credential for the whole service."
        )
    above = (
        set(await hierarchy.ancestor_ids(reads_in(session), parent_id, include_self=True))
        if parent_id is not None
        else set()
    )
    if keep_ids:
        id_map = {r.id: r.id for r in _records(document)}
    else:
        document, id_map = with_new_ids(document, above=above)
    await _check_free(session, document, ids=keep_ids)
    added_models = await map_models.settle(
        session, principal=principal, document=document, above=above
    )
    # Table by table, parents first: without relationship() the unit of work would not know
    # that an activity row needs its organisation's row inserted before it.
    root_id = document.root_id
    organisations: list[SQLModel] = []
    for o in document.organisations:
        values = o.model_dump()
        if o.id == root_id:
            values["parent_id"] = parent_id
        organisations.append(Organisation(**values))
    await _insert(session, organisations)
    await _insert(session, [Asset(**_stored(a, exclude={"tags"})) for a in document.assets])
    await _insert(
        session, [AssetTag(asset_id=a.id, tag=tag) for a in document.assets for tag in a.tags]
    )
    activities = document.activities
    await _insert(session, [Activity(**_stored(v, exclude={"asset_ids"})) for v in activities])
    await _insert(
        session,
        [ActivityAsset(activity_id=v.id, asset_id=a) for v in activities for a in v.asset_ids],
    )
    plan_items = document.plan_items
    links = {"asset_ids", "activity_ids"}
    await _insert(session, [PlanItem(**p.model_dump(exclude=links)) for p in plan_items])
    await _insert(
        session,
        [PlanItemAsset(plan_item_id=p.id, asset_id=a) for p in plan_items for a in p.asset_ids],
    )
    await _insert(
        session,
        [
            PlanItemActivity(plan_item_id=p.id, activity_id=a)
            for p in plan_items
            for a in p.activity_ids
        ],
    )
    await _insert(session, [Assessment(**s.model_dump()) for s in document.assessments])
    _audit(session, principal, document, parent_id)
    return MapImportResult(
        root_id=root_id,
        parent_id=parent_id,
        organisations=len(document.organisations),
        assets=len(document.assets),
        activities=len(document.activities),
        plan_items=len(document.plan_items),
        assessments=len(document.assessments),
        reference_models=added_models,
        id_map=id_map,
    )


def _records(
    document: MapDocument,
) -> Iterable[MapOrganisation | MapAsset | MapActivity | MapPlanItem | MapAssessment]:
    return chain(
        document.organisations,
        document.assets,
        document.activities,
        document.plan_items,
        document.assessments,
    )


def _audit(
    session: AsyncSession, principal: Principal, document: MapDocument, parent_id: uuid.UUID | None
) -> None:
    create = AuditAction.CREATE
    for o in document.organisations:
        values = o.model_dump() | ({"parent_id": parent_id} if o.id == document.root_id else {})
        audit.row_change(session, principal, create, ResourceType.ORGANISATION, o, {}, values)
    records: list[tuple[ResourceType, Any]] = [
        *((ResourceType.ASSET, a) for a in document.assets),
        *((ResourceType.ACTIVITY, v) for v in document.activities),
        *((ResourceType.PLAN_ITEM, p) for p in document.plan_items),
        *((ResourceType.ASSESSMENT, s) for s in document.assessments),
    ]
    for resource_type, record in records:
        after = record.model_dump(exclude={"result"})
        audit.row_change(session, principal, create, resource_type, record, {}, after)


def _stored(record: MapAsset | MapActivity, *, exclude: set[str]) -> dict[str, Any]:
    values = record.model_dump(exclude=exclude)
    values["evidence"] = [link.model_dump() for link in record.evidence]
    return values


async def _insert(session: AsyncSession, rows: Sequence[SQLModel]) -> None:
    for start in range(0, len(rows), CHUNK):
        session.add_all(rows[start : start + CHUNK])
        await session.flush()


def _duplicates(ids: Iterable[Any]) -> set[Any]:
    seen: set[Any] = set()
    return {i for i in ids if i in seen or seen.add(i)}  # type: ignore[func-returns-value]


def _check_shape(document: MapDocument) -> None:
    """One tree under the root, and every record belongs to an organisation of the map."""
    issues: list[FieldIssue] = []
    parents = {o.id: o.parent_id for o in document.organisations}
    if document.root_id not in parents:
        issues.append(FieldIssue("root_id", "Not one of the map's organisations."))
    children: dict[uuid.UUID | None, list[uuid.UUID]] = {}
    for index, o in enumerate(document.organisations):
        children.setdefault(o.parent_id, []).append(o.id)
        if o.id != document.root_id and o.parent_id not in parents:
            issues.append(
                FieldIssue(("organisations", index, "parent_id"), "Not an organisation of the map.")
            )
    reached, pending = set(), [document.root_id]
    while pending:
        current = pending.pop()
        if current not in reached:
            reached.add(current)
            pending += children.get(current, [])
    if not issues and reached != set(parents):
        issues.append(FieldIssue("organisations", "Some organisations are not below the root."))
    for name, items in (
        ("organisations", document.organisations),
        ("assets", document.assets),
        ("activities", document.activities),
        ("plan_items", document.plan_items),
        ("assessments", document.assessments),
    ):
        for duplicate in _duplicates(item.id for item in items):
            issues.append(FieldIssue(name, f"{duplicate} appears twice."))
    codes = [o.ods_code for o in document.organisations if o.ods_code]
    issues += [FieldIssue("organisations", f"ODS code {c} twice.") for c in _duplicates(codes)]
    owners = {a.id: a.organisation_id for a in document.assets}
    belonging: tuple[
        tuple[str, Sequence[MapAsset | MapActivity | MapPlanItem | MapAssessment]], ...
    ] = (
        ("assets", document.assets),
        ("activities", document.activities),
        ("plan_items", document.plan_items),
        ("assessments", document.assessments),
    )
    for name, records in belonging:
        for index, record in enumerate(records):
            if record.organisation_id not in parents:
                issues.append(
                    FieldIssue((name, index, "organisation_id"), "Not an organisation of the map.")
                )
    for index, activity in enumerate(document.activities):
        above = _ancestors(parents, activity.organisation_id)
        for position, asset_id in enumerate(activity.asset_ids):
            if owners.get(asset_id) not in above:
                issues.append(
                    FieldIssue(
                        ("activities", index, "asset_ids", position),
                        "Not an asset of this organisation or one above it in the map.",
                    )
                )
    activity_owners = {v.id: v.organisation_id for v in document.activities}
    for index, item in enumerate(document.plan_items):
        above = _ancestors(parents, item.organisation_id)
        for field, ids, known, what in (
            ("asset_ids", item.asset_ids, owners, "an asset"),
            ("activity_ids", item.activity_ids, activity_owners, "an activity"),
        ):
            issues += [
                FieldIssue(
                    ("plan_items", index, field, position),
                    f"Not {what} of this organisation or one above it in the map.",
                )
                for position, record_id in enumerate(ids)
                if known.get(record_id) not in above
            ]
    issues += _repeats(document)
    if issues:
        raise ValidationFailed("The map does not hold together.", errors=issues)


def _repeats(document: MapDocument) -> list[FieldIssue]:
    """What the tables' keys would refuse at insert time, named here instead (the database's
    refusal reads as a 409 "changed meanwhile", which no retry mends): a record linked twice by
    one activity or plan item, and an externalId used twice in one organisation."""
    issues: list[FieldIssue] = []
    linking: tuple[tuple[str, Sequence[MapActivity | MapPlanItem], tuple[str, ...]], ...] = (
        ("activities", document.activities, ("asset_ids",)),
        ("plan_items", document.plan_items, ("asset_ids", "activity_ids")),
    )
    for name, records, fields in linking:
        for index, record in enumerate(records):
            for field in fields:
                seen: set[uuid.UUID] = set()
                for position, record_id in enumerate(getattr(record, field)):
                    if record_id in seen:
                        issues.append(FieldIssue((name, index, field, position), "Listed twice."))
                    seen.add(record_id)
    keyed: tuple[tuple[str, Sequence[MapAsset | MapActivity | MapPlanItem]], ...] = (
        ("assets", document.assets),
        ("activities", document.activities),
        ("plan_items", document.plan_items),
    )
    for name, keyed_records in keyed:
        keys: set[tuple[uuid.UUID, str]] = set()
        for index, keyed_record in enumerate(keyed_records):
            if keyed_record.external_id is None:
                continue
            key = (keyed_record.organisation_id, keyed_record.external_id)
            if key in keys:
                issues.append(
                    FieldIssue(
                        (name, index, "external_id"),
                        "Another record of the same organisation has this externalId.",
                    )
                )
            keys.add(key)
    return issues


def _ancestors(parents: dict[uuid.UUID, uuid.UUID | None], start: uuid.UUID) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    current: uuid.UUID | None = start
    while current is not None and current in parents and current not in found:
        found.add(current)
        current = parents[current]
    return found


async def _existing(session: AsyncSession, column: Any, values: Sequence[Any]) -> list[Any]:
    found: list[Any] = []
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        found += (await session.exec(select(column).where(column.in_(chunk)))).all()
    return found


async def _check_free(session: AsyncSession, document: MapDocument, *, ids: bool) -> None:
    """ODS codes are national and public: one organisation each, whoever holds it. Ids are
    checked only when the document's are kept (new ones are free by construction)."""
    issues: list[FieldIssue] = []
    kinds = (
        ("organisations", col(Organisation.id), document.organisations),
        ("assets", col(Asset.id), document.assets),
        ("activities", col(Activity.id), document.activities),
        ("plan_items", col(PlanItem.id), document.plan_items),
        ("assessments", col(Assessment.id), document.assessments),
    )
    for name, column, items in kinds if ids else ():
        taken = await _existing(session, column, [item.id for item in items])
        issues += [FieldIssue(name, f"{row_id} exists here already.") for row_id in taken]
    codes = [o.ods_code for o in document.organisations if o.ods_code]
    taken_codes = await _existing(session, col(Organisation.ods_code), codes)
    issues += [FieldIssue("organisations", f"ODS code {c} is used here.") for c in taken_codes]
    if issues:
        raise Conflict(
            "Some of the map is here already: a map is imported into an instance that does not "
            "hold it (delete the old copy first).",
            errors=issues,
        )
