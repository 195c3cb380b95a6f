"""Activities in an import: beside the asset-like steps, a row's links to assets, given by id
(its organisation's or one above, as the activities service allows) or by the externalId of
one of its own organisation's assets."""

import uuid
from typing import Any

from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.activities import service as activities_service
from app.activities.schemas import MAX_LINKS
from app.assets.schemas import stored_links
from app.auth import access
from app.auth.principal import Principal
from app.errors import FieldIssue, ValidationFailed
from app.models import Activity, ActivityAsset, Asset
from app.organisations import hierarchy
from app.reference.schemas import ReferenceModelPublic
from app.transfer.kinds import Pending, Records, differs
from app.transfer.schemas import ActivityImportRow
from app.vocabulary import ResourceType


class Activities(Records):
    row_model = ActivityImportRow
    table = Activity
    what = "activity"
    resource_type = ResourceType.ACTIVITY
    children = "asset_ids"
    child_key = col(ActivityAsset.activity_id)

    def __init__(self, principal: Principal) -> None:
        super().__init__(principal)
        self._allowed: dict[uuid.UUID, set[uuid.UUID]] = {}
        self._locked = False

    def _child(self, record_id: uuid.UUID, value: Any) -> SQLModel:
        return ActivityAsset(activity_id=record_id, asset_id=value)

    def check(self, model: ReferenceModelPublic, pending: Pending) -> list[FieldIssue]:
        data: ActivityImportRow = pending.data
        pending.values = data.model_dump(
            exclude={
                "asset_ids",
                "asset_external_ids",
                "id",
                "organisation_id",
                "organisation_ods_code",
            }
        )
        pending.values["evidence"] = stored_links(data.evidence)
        return self._check_capability(model, pending)

    async def match(self, session: AsyncSession, batch: list[Pending], *, lock: bool) -> None:
        await self._match_records(session, batch, lock=lock)
        await self._links(session, batch)
        matched = [p for p in batch if p.existing is not None]
        links = await activities_service.links_of(session, [p.existing.id for p in matched])
        for pending in matched:
            current = links[pending.existing.id]
            pending.changes = differs(pending, current)
            pending.before = pending.existing.model_dump() | {self.children: current}

    async def _links(self, session: AsyncSession, batch: list[Pending]) -> None:
        linking = [p for p in batch if p.data.asset_ids or p.data.asset_external_ids]
        if not linking:
            return
        if not self._locked:
            # As the activities service does: no move of the tree may strand these links.
            await hierarchy.lock_tree(session, shared=True)
            self._locked = True
        keys = {key for p in linking for key in p.data.asset_external_ids}
        by_key: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
        if keys:
            rows = await session.exec(
                select(Asset.id, Asset.organisation_id, Asset.external_id).where(
                    col(Asset.external_id).in_(keys),
                    col(Asset.organisation_id).in_({p.organisation_id for p in linking}),
                )
            )
            by_key = {(org, str(key)): asset_id for asset_id, org, key in rows.all()}
        ids = {asset_id for p in linking for asset_id in p.data.asset_ids}
        owners: dict[uuid.UUID, uuid.UUID] = {}
        if ids:
            rows_ = await session.exec(
                select(Asset.id, Asset.organisation_id).where(col(Asset.id).in_(ids))
            )
            owners = dict(rows_.all())
        seen = await access.visible_among(session, self.principal, set(owners.values()))
        for pending in linking:
            await self._link(session, pending, by_key, owners, seen)

    async def _link(
        self,
        session: AsyncSession,
        pending: Pending,
        by_key: dict[tuple[uuid.UUID, str], uuid.UUID],
        owners: dict[uuid.UUID, uuid.UUID],
        seen: set[uuid.UUID],
    ) -> None:
        data: ActivityImportRow = pending.data
        linked = list(data.asset_ids)
        for key in data.asset_external_ids:
            asset_id = by_key.get((pending.organisation_id, key))
            if asset_id is None:
                pending.issues.append(
                    pending.raw.issue(
                        "assetExternalIds",
                        f"No asset with externalId {key!r} in organisation "
                        f"{pending.organisation_id}.",
                    )
                )
            else:
                linked.append(asset_id)
        allowed = self._allowed.get(pending.organisation_id)
        if allowed is None:
            above = await activities_service.linkable_owners(
                session, self.principal, pending.organisation_id
            )
            allowed = self._allowed[pending.organisation_id] = set(above)
        try:
            activities_service.check_links(
                data.asset_ids, owners=owners, allowed=allowed, seen=seen
            )
        except ValidationFailed as error:
            for issue in error.errors:
                index = issue.field[1] if len(issue.field) > 1 else 0
                where = data.asset_ids[int(index)]
                pending.issues.append(pending.raw.issue("assetIds", f"{where}: {issue.message}"))
        pending.children = sorted(set(linked))
        if len(pending.children) > MAX_LINKS:
            pending.issues.append(
                pending.raw.issue(
                    "assetExternalIds",
                    f"{len(pending.children)} assets by id and externalId together; at most "
                    f"{MAX_LINKS}.",
                )
            )
