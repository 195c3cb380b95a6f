"""Plan items in an import: beside the steps every kind shares, the capability must apply to
the row's organisation's type (read a batch at a time), and a row links assets and activities
by id (its organisation's or one above, as the plan items service allows) or by the externalId
of one of its own organisation's records."""

import uuid
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.activities import service as activities_service
from app.activities.schemas import MAX_LINKS
from app.audit import service as audit
from app.auth import access
from app.auth.principal import Principal
from app.errors import FieldIssue, ValidationFailed
from app.models import Activity, Asset, Organisation, PlanItem, PlanItemActivity, PlanItemAsset
from app.organisations import hierarchy
from app.plans import links as plans_links
from app.plans import service as plans_service
from app.reference.schemas import ReferenceModelPublic
from app.transfer.kinds import Pending, Records, differs
from app.transfer.schemas import PlanItemImportRow
from app.vocabulary import AuditAction, OrganisationType, ResourceType

# A row's links as its children: one list of (kind, id), so that the shared matching and
# change detection compare both link tables at once.
ASSET, ACTIVITY = "asset", "activity"
Link = tuple[str, uuid.UUID]


class PlanItems(Records):
    row_model = PlanItemImportRow
    table = PlanItem
    what = "plan item"
    resource_type = ResourceType.PLAN_ITEM
    children = "links"
    child_key = col(PlanItemAsset.plan_item_id)

    def __init__(self, principal: Principal) -> None:
        super().__init__(principal)
        self._allowed: dict[uuid.UUID, set[uuid.UUID]] = {}
        self._types: dict[uuid.UUID, OrganisationType] = {}
        self._model: ReferenceModelPublic | None = None
        self._locked = False

    def _child(self, record_id: uuid.UUID, value: Any) -> SQLModel:
        kind, linked = value
        if kind == ASSET:
            return PlanItemAsset(plan_item_id=record_id, asset_id=linked)
        return PlanItemActivity(plan_item_id=record_id, activity_id=linked)

    def check(self, model: ReferenceModelPublic, pending: Pending) -> list[FieldIssue]:
        data: PlanItemImportRow = pending.data
        self._model = model
        pending.values = data.model_dump(
            exclude={
                "asset_ids",
                "activity_ids",
                "asset_external_ids",
                "activity_external_ids",
                "id",
                "organisation_id",
                "organisation_ods_code",
            }
        )
        pending.children = sorted(
            {(ASSET, a) for a in data.asset_ids} | {(ACTIVITY, a) for a in data.activity_ids}
        )
        return []

    async def match(self, session: AsyncSession, batch: list[Pending], *, lock: bool) -> None:
        await self._capabilities(session, batch)
        await self._match_records(session, batch, lock=lock)
        await self._links(session, batch)
        matched = [p for p in batch if p.existing is not None]
        current = await _current_links(session, [p.existing.id for p in matched])
        for pending in matched:
            links = current[pending.existing.id]
            pending.changes = differs(pending, links)
            pending.before = _audited(pending.existing, links)

    async def write(self, session: AsyncSession, batch: list[Pending]) -> None:
        # The shared write replaces the asset links of a changed record; the activity links
        # go here, before it adds both kinds back.
        replaced = [p.existing.id for p in batch if p.existing is not None and p.changes]
        if replaced:
            await session.exec(
                sql_delete(PlanItemActivity).where(col(PlanItemActivity.plan_item_id).in_(replaced))
            )
        await super().write(session, batch)

    def _audit(self, session: AsyncSession, pending: Pending, row: Any) -> None:
        after = _audited(row, pending.children)
        if pending.before is None:
            action, before = AuditAction.CREATE, {}
        else:
            action, before = AuditAction.UPDATE, pending.before
        audit.row_change(session, self.principal, action, self.resource_type, row, before, after)

    async def _capabilities(self, session: AsyncSession, batch: list[Pending]) -> None:
        assert self._model is not None  # check() ran on every row of the batch
        unknown = {p.organisation_id for p in batch} - set(self._types)
        if unknown:
            rows = await session.exec(
                select(Organisation.id, Organisation.organisation_type).where(
                    col(Organisation.id).in_(unknown)
                )
            )
            self._types |= {org: OrganisationType(kind) for org, kind in rows.all()}
        for pending in batch:
            try:
                plans_service.check_capability(
                    self._model,
                    key=pending.data.capability_key,
                    organisation_type=self._types[pending.organisation_id],
                )
            except ValidationFailed as error:
                pending.issues += [
                    pending.raw.issue("capabilityKey", issue.message) for issue in error.errors
                ]

    async def _links(self, session: AsyncSession, batch: list[Pending]) -> None:
        linking = [p for p in batch if any(getattr(p.data, f) for f in _LINK_FIELDS)]
        if not linking:
            return
        if not self._locked:
            # As the plan items service does: no move of the tree may strand these links.
            await hierarchy.lock_tree(session, shared=True)
            self._locked = True
        organisations = {p.organisation_id for p in linking}
        by_key: dict[str, dict[tuple[uuid.UUID, str], uuid.UUID]] = {}
        owners: dict[str, dict[uuid.UUID, uuid.UUID]] = {}
        for kind, table, ids_field, keys_field, _, _ in _LINKS:
            columns: Any = table
            by_key[kind], owners[kind] = {}, {}
            keys = {key for p in linking for key in getattr(p.data, keys_field)}
            if keys:
                found = await session.exec(
                    select(columns.id, columns.organisation_id, columns.external_id).where(
                        col(columns.external_id).in_(keys),
                        col(columns.organisation_id).in_(organisations),
                    )
                )
                by_key[kind] = {(org, str(key)): row_id for row_id, org, key in found.all()}
            ids = {i for p in linking for i in getattr(p.data, ids_field)}
            if ids:
                found_ = await session.exec(
                    select(columns.id, columns.organisation_id).where(col(columns.id).in_(ids))
                )
                owners[kind] = dict(found_.all())
        every_owner = {org for kind in owners for org in owners[kind].values()}
        seen = await access.visible_among(session, self.principal, every_owner)
        for pending in linking:
            allowed = self._allowed.get(pending.organisation_id)
            if allowed is None:
                above = await activities_service.linkable_owners(
                    session, self.principal, pending.organisation_id
                )
                allowed = self._allowed[pending.organisation_id] = set(above)
            linked = set(pending.children)
            for kind, _, ids_field, keys_field, ids_column, keys_column in _LINKS:
                for key in getattr(pending.data, keys_field):
                    found_id = by_key[kind].get((pending.organisation_id, key))
                    if found_id is None:
                        pending.issues.append(
                            pending.raw.issue(
                                keys_column,
                                f"No {kind} with externalId {key!r} in organisation "
                                f"{pending.organisation_id}.",
                            )
                        )
                    else:
                        linked.add((kind, found_id))
                ids = getattr(pending.data, ids_field)
                for issue in activities_service.link_issues(
                    ids_field, kind, ids, owners=owners[kind], allowed=allowed, seen=seen
                ):
                    where = ids[int(issue.field[1])]
                    pending.issues.append(
                        pending.raw.issue(ids_column, f"{where}: {issue.message}")
                    )
            pending.children = sorted(linked)
            for kind, _, _, _, _, keys_column in _LINKS:
                count = sum(1 for linked_kind, _ in linked if linked_kind == kind)
                if count > MAX_LINKS:
                    pending.issues.append(
                        pending.raw.issue(
                            keys_column,
                            f"{count} {kind} links by id and externalId together; at most "
                            f"{MAX_LINKS}.",
                        )
                    )


# Each kind of link: its table, the row's id and externalId fields, and their columns.
_LINKS: tuple[tuple[str, Any, str, str, str, str], ...] = (
    (ASSET, Asset, "asset_ids", "asset_external_ids", "assetIds", "assetExternalIds"),
    (
        ACTIVITY,
        Activity,
        "activity_ids",
        "activity_external_ids",
        "activityIds",
        "activityExternalIds",
    ),
)
_LINK_FIELDS = tuple(field for link in _LINKS for field in link[2:4])


def _audited(row: Any, links: list[Link]) -> dict[str, Any]:
    """The record as the endpoints audit it: its columns and its two lists of links."""
    values: dict[str, Any] = row.model_dump()
    return values | {
        "asset_ids": sorted(i for kind, i in links if kind == ASSET),
        "activity_ids": sorted(i for kind, i in links if kind == ACTIVITY),
    }


async def _current_links(
    session: AsyncSession, plan_item_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Link]]:
    assets = await plans_links.assets_of(session, plan_item_ids)
    activities = await plans_links.activities_of(session, plan_item_ids)
    return {
        item: sorted([(ASSET, a) for a in assets[item]] + [(ACTIVITY, a) for a in activities[item]])
        for item in plan_item_ids
    }
