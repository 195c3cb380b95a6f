"""What an import does for each kind of record: which schema reads a row, which of the
services' rules apply, how a row finds the record it updates, and how a batch is written."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import InstrumentedAttribute
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import records
from app.assets import service as assets_service
from app.assets.schemas import stored_links
from app.audit import service as audit
from app.auth.principal import Principal
from app.errors import FieldIssue, ValidationFailed
from app.models import Activity, Asset, AssetTag, PlanItem
from app.reference import service as reference_service
from app.reference.schemas import ReferenceModelPublic
from app.transfer.formats import RawRow
from app.transfer.schemas import (
    ActivityImportRow,
    AssetImportRow,
    OrganisationImportRow,
    PlanItemImportRow,
)
from app.transfer.subtree import Subtree, place_record
from app.vocabulary import AuditAction, ResourceType

Row = AssetImportRow | ActivityImportRow | PlanItemImportRow | OrganisationImportRow
Stored = Asset | Activity | PlanItem


@dataclass
class Pending:
    """A valid row on its way in: its values as stored, and what it matched."""

    raw: RawRow
    data: Any
    organisation_id: uuid.UUID
    values: dict[str, Any] = field(default_factory=dict)
    children: list[Any] = field(default_factory=list)  # tags, or linked asset ids
    existing: Any = None
    before: dict[str, Any] | None = None  # the matched record as it was, for the audit trail
    changes: bool = True
    issues: list[FieldIssue] = field(default_factory=list)
    made: uuid.UUID | None = None  # the id of the record a written row created

    @property
    def record_id(self) -> uuid.UUID | None:
        return self.existing.id if self.existing is not None else self.made


def _issues(raw: RawRow, error: ValidationFailed, column_of: dict[str, str]) -> list[FieldIssue]:
    return [
        raw.issue(column_of.get(str(issue.field[0]), str(issue.field[0])), issue.message)
        for issue in error.errors
    ]


class Kind(Protocol):
    @property
    def row_model(self) -> type[Row]: ...

    def place(
        self, raw: RawRow, data: Any, tree: Subtree
    ) -> tuple[uuid.UUID, list[FieldIssue]]: ...

    def check(self, model: ReferenceModelPublic, pending: Pending) -> list[FieldIssue]: ...

    async def match(self, session: AsyncSession, batch: list[Pending], *, lock: bool) -> None: ...

    async def write(self, session: AsyncSession, batch: list[Pending]) -> None: ...


class Records:
    """Matching by id or externalId, and writing a batch, the same for both kinds. Each row
    written is audited as the create and update endpoints audit theirs.

    The kinds differ in the table, the child table that holds each record's tags or asset
    links (``child_key``, its column that points at the record, and ``_child``, which makes
    one of its rows) and what the audit trail calls those children (``children``)."""

    table: type[Stored]
    what: str
    resource_type: ResourceType
    children: str
    child_key: ClassVar[InstrumentedAttribute[uuid.UUID]]

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def _child(self, record_id: uuid.UUID, value: Any) -> SQLModel:
        raise NotImplementedError

    def place(self, raw: RawRow, data: Any, tree: Subtree) -> tuple[uuid.UUID, list[FieldIssue]]:
        return place_record(raw, data, tree)

    async def write(self, session: AsyncSession, batch: list[Pending]) -> None:
        """Insert the new records, update the changed ones and replace their children; the
        unchanged are left alone (and not audited)."""
        table: Any = self.table
        replaced: list[uuid.UUID] = []
        added: list[SQLModel] = []
        for pending in batch:
            row = pending.existing
            if row is None:
                row = table(organisation_id=pending.organisation_id, **pending.values)
                pending.made = row.id
                added.append(row)
            elif pending.changes:
                records.apply(row, pending.values, also_changed=True)
                replaced.append(row.id)
            else:
                continue
            added += [self._child(row.id, value) for value in pending.children]
            self._audit(session, pending, row)
        if replaced:
            child_key = type(self).child_key  # the column itself, not an instance's value
            await session.exec(sql_delete(child_key.class_).where(child_key.in_(replaced)))
        session.add_all(added)
        await session.flush()

    def _audit(self, session: AsyncSession, pending: Pending, row: Any) -> None:
        after = row.model_dump() | {self.children: pending.children}
        if pending.before is None:
            action, before = AuditAction.CREATE, {}
        else:
            action, before = AuditAction.UPDATE, pending.before
        audit.row_change(session, self.principal, action, self.resource_type, row, before, after)

    def _check_capability(self, model: ReferenceModelPublic, pending: Pending) -> list[FieldIssue]:
        data = pending.data
        if data.capability_key is None:
            return []
        try:
            reference_service.check_capability(model, key=data.capability_key, area=data.area)
        except ValidationFailed as error:
            return _issues(pending.raw, error, {"capability_key": "capabilityKey"})
        return []

    async def _match_records(
        self, session: AsyncSession, batch: list[Pending], *, lock: bool
    ) -> None:
        table: Any = self.table
        ids = [p.data.id for p in batch if p.data.id is not None]
        keys = {(p.organisation_id, p.data.external_id) for p in batch if p.data.external_id}
        by_id: dict[uuid.UUID, Any] = {}
        by_key: dict[tuple[uuid.UUID, str], Any] = {}
        if ids:
            statement = select(table).where(col(table.id).in_(ids))
            statement = statement.with_for_update(key_share=True) if lock else statement
            by_id = {row.id: row for row in (await session.exec(statement)).all()}
        if keys:
            statement = select(table).where(
                col(table.external_id).in_({key for _, key in keys}),
                col(table.organisation_id).in_({org for org, _ in keys}),
            )
            statement = statement.with_for_update(key_share=True) if lock else statement
            found = (await session.exec(statement)).all()
            by_key = {(row.organisation_id, row.external_id): row for row in found}
        for pending in batch:
            data, raw = pending.data, pending.raw
            existing = None
            if data.id is not None:
                existing = by_id.get(data.id)
                if existing is None or existing.organisation_id != pending.organisation_id:
                    where = (
                        "" if existing is None else f" (it belongs to {existing.organisation_id})"
                    )
                    pending.issues.append(
                        raw.issue(
                            "id",
                            f"No {self.what} {data.id} in organisation "
                            f"{pending.organisation_id}{where}; an import does not move records.",
                        )
                    )
                    existing = None
            if data.external_id is not None:
                other = by_key.get((pending.organisation_id, data.external_id))
                if data.id is None:
                    existing = other
                elif other is not None and existing is not None and other.id != existing.id:
                    pending.issues.append(
                        raw.issue("externalId", f"Already the key of {self.what} {other.id}.")
                    )
            pending.existing = existing


class Assets(Records):
    row_model = AssetImportRow
    table = Asset
    what = "asset"
    resource_type = ResourceType.ASSET
    children = "tags"
    child_key = col(AssetTag.asset_id)

    def _child(self, record_id: uuid.UUID, value: Any) -> SQLModel:
        return AssetTag(asset_id=record_id, tag=value)

    def check(self, model: ReferenceModelPublic, pending: Pending) -> list[FieldIssue]:
        data: AssetImportRow = pending.data
        pending.values = data.model_dump(
            exclude={"tags", "id", "organisation_id", "organisation_ods_code"}
        )
        pending.values["evidence"] = stored_links(data.evidence)
        pending.children = list(data.tags)
        issues = self._check_capability(model, pending)
        try:
            assets_service.require_proof(pending.values)
        except ValidationFailed as error:
            columns = {"reviewed_by": "reviewedBy", "reviewed_at": "reviewedAt"}
            issues += _issues(pending.raw, error, columns)
        return issues

    async def match(self, session: AsyncSession, batch: list[Pending], *, lock: bool) -> None:
        await self._match_records(session, batch, lock=lock)
        matched = [p for p in batch if p.existing is not None]
        tags = await assets_service.tags_of(session, [p.existing.id for p in matched])
        for pending in matched:
            current = tags[pending.existing.id]
            pending.changes = differs(pending, current)
            pending.before = pending.existing.model_dump() | {self.children: current}


def differs(pending: Pending, current_children: Sequence[Any]) -> bool:
    row = pending.existing
    if sorted(set(pending.children)) != sorted(current_children):
        return True
    return any(getattr(row, name) != value for name, value in pending.values.items())
