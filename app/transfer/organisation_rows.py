"""Organisations in an import: rows create or update organisations below the one imported
into. A row is matched by its ODS code (or id); its parent is named by ODS code (or id), blank
for the organisation imported into, and may be one an earlier row of the same file makes.

Everything stays inside the organisation imported into: a row cannot name it (that would make
it its own member), match an organisation elsewhere, or place one under a parent outside it.
Moves within it are checked as the organisations service checks a move: no cycle (against the
tree as the file leaves it, row by row), and no link from a record to one no longer above it."""

import uuid
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import records
from app.audit import service as audit
from app.auth import revocations
from app.auth.principal import Principal
from app.db import reads_in
from app.errors import FieldIssue
from app.models import Organisation
from app.organisations import hierarchy
from app.reference.schemas import ReferenceModelPublic
from app.transfer.formats import RawRow
from app.transfer.kinds import Pending
from app.transfer.schemas import OrganisationImportRow
from app.transfer.subtree import Subtree
from app.vocabulary import AuditAction, ResourceType, Role

ORGANISATION = ResourceType.ORGANISATION
_NOT_IN_SHEETS = frozenset({"official_name", "benchmark_opt_out"})
_INSIDE = "a parent is the organisation imported into, one below it, or a row above in the file."


class Organisations:
    row_model = OrganisationImportRow

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        # The file's organisations by ODS code (the id each has or will have) and the row
        # that names each; the tree's parents as the rows read so far leave them.
        self._codes: dict[str, uuid.UUID] = {}
        self._lines: dict[str, int] = {}
        self._made: set[uuid.UUID] = set()
        self._tree: Subtree | None = None
        self._parents: dict[uuid.UUID, uuid.UUID | None] = {}
        self._above_root: list[uuid.UUID] | None = None

    def place(
        self, raw: RawRow, data: OrganisationImportRow, tree: Subtree
    ) -> tuple[uuid.UUID, list[FieldIssue]]:
        """The row's parent (its "organisation": the one it goes under), and the id the row's
        organisation has or will have, remembered for the rows below it."""
        if self._tree is None:
            self._tree, self._parents = tree, dict(tree.parent_of)
        parent, issues = self._parent(raw, data, tree)
        own = data.id or (tree.by_code.get(data.ods_code) if data.ods_code else None)
        first = self._lines.setdefault(data.ods_code, raw.line) if data.ods_code else raw.line
        if first != raw.line:
            issues.append(raw.issue("odsCode", f"The same odsCode is on line {first}."))
        if own == tree.root:
            issues.append(
                raw.issue(
                    "odsCode" if data.id is None else "id",
                    "This is the organisation imported into, not one below it: import into its "
                    "parent to change it.",
                )
            )
        if issues:
            return parent, issues
        if own is None:
            own = uuid.uuid4()
            self._made.add(own)
            self._parents[own] = parent
        if data.ods_code is not None:
            self._codes[data.ods_code] = own
        return parent, []

    def _parent(
        self, raw: RawRow, data: OrganisationImportRow, tree: Subtree
    ) -> tuple[uuid.UUID, list[FieldIssue]]:
        code, parent_id = data.parent_ods_code, data.parent_id
        if code is None and parent_id is None:
            return tree.root, []
        if code is not None:
            found = self._codes.get(code) or tree.by_code.get(code)
            if found is None:
                message = f"No organisation has the ODS code {code} here: {_INSIDE}"
                return tree.root, [raw.issue("parentOdsCode", message)]
            if parent_id is not None and parent_id != found:
                message = "parentId and parentOdsCode name different organisations."
                return found, [raw.issue("parentId", message), raw.issue("parentOdsCode", message)]
            return found, []
        assert parent_id is not None
        if parent_id in tree.ids or parent_id in self._made:
            return parent_id, []
        return tree.root, [
            raw.issue("parentId", f"Not this organisation or one below it: {_INSIDE}")
        ]

    def check(self, model: ReferenceModelPublic, pending: Pending) -> list[FieldIssue]:
        data: OrganisationImportRow = pending.data
        # Fields a sheet has no column for are kept as stored unless the row (JSON) names
        # them: a CSV re-import must not clear an official name or an admin's opt-out.
        kept = _NOT_IN_SHEETS - data.model_fields_set
        pending.values = data.model_dump(exclude={"id", "parent_id", "parent_ods_code"} | kept)
        pending.values["parent_id"] = pending.organisation_id
        return []

    async def match(self, session: AsyncSession, batch: list[Pending], *, lock: bool) -> None:
        """Each row's organisation as stored (by id or ODS code, anywhere: a code taken
        elsewhere is refused, not duplicated), what would change, and whether a move is one
        the tree allows."""
        ids = {p.data.id for p in batch if p.data.id is not None}
        codes = {p.data.ods_code for p in batch if p.data.ods_code is not None}
        statement = select(Organisation).where(
            or_(col(Organisation.id).in_(ids), col(Organisation.ods_code).in_(codes))
        )
        if lock:
            statement = statement.with_for_update()
        found = (await session.exec(statement)).all()
        by_id = {row.id: row for row in found}
        by_code = {row.ods_code: row for row in found if row.ods_code is not None}
        assert self._tree is not None
        inside = self._tree.ids - {self._tree.root}
        for pending in batch:
            data, raw = pending.data, pending.raw
            existing = by_id.get(data.id) if data.id is not None else None
            if data.id is not None and (existing is None or existing.id not in inside):
                pending.issues.append(
                    raw.issue(
                        "id",
                        f"No organisation {data.id} below this one; an import does "
                        "not move organisations into it.",
                    )
                )
                continue
            holder = by_code.get(data.ods_code) if data.ods_code is not None else None
            if holder is not None and existing is not None and holder.id != existing.id:
                pending.issues.append(
                    raw.issue("odsCode", "Already the ODS code of another organisation.")
                )
                continue
            existing = existing or holder
            if existing is not None and existing.id not in inside:
                pending.issues.append(
                    raw.issue(
                        "odsCode",
                        f"ODS code {data.ods_code} is already used by an organisation that is not "
                        "below this one: an import does not move organisations into it.",
                    )
                )
                continue
            stored_opt_out = existing.benchmark_opt_out if existing is not None else False
            opt_out = pending.values.get("benchmark_opt_out", stored_opt_out)
            if opt_out != stored_opt_out and not self.principal.can(Role.ADMIN):
                # As the organisations service rules: its admins' decision.
                pending.issues.append(
                    raw.issue(
                        "benchmarkOptOut",
                        "Only an admin changes whether an organisation is counted in others' "
                        "benchmarks.",
                    )
                )
                continue
            pending.existing = existing
            if existing is None:
                pending.made = self._codes.get(data.ods_code) if data.ods_code else None
                pending.made = pending.made or uuid.uuid4()
                continue
            pending.before = existing.model_dump()
            pending.changes = any(getattr(existing, k) != v for k, v in pending.values.items())
            if pending.values["parent_id"] != existing.parent_id:
                await self._check_move(session, pending, lock=lock)

    async def _check_move(self, session: AsyncSession, pending: Pending, *, lock: bool) -> None:
        """A move within the organisation imported into: not under itself or one of its own
        members (as the file leaves the tree so far), and no link stranded."""
        assert self._tree is not None
        moved, parent = pending.existing.id, pending.values["parent_id"]
        chain: list[uuid.UUID] = []
        current: uuid.UUID | None = parent
        while current is not None and current in self._parents and current not in chain:
            chain.append(current)
            current = self._parents[current]
        if moved in chain:
            pending.issues.append(
                pending.raw.issue(
                    "parentOdsCode",
                    "The parent is this organisation itself or one of its members: a parent "
                    "cannot also be a member, so this would make a cycle.",
                )
            )
            return
        if lock:
            await hierarchy.lock_tree(session)
        if self._above_root is None:
            self._above_root = await hierarchy.ancestor_ids(
                reads_in(session), self._tree.root, include_self=False
            )
        stranded = await hierarchy.links_outside(
            session, moved, allowed_above=[*chain, *self._above_root]
        )
        if stranded:
            pending.issues.append(
                pending.raw.issue(
                    "parentOdsCode",
                    f"{stranded} link(s) from activities or plan items to assets or activities "
                    "of organisations that would no longer be above it; unlink them first.",
                )
            )
            return
        self._parents[moved] = parent

    async def write(self, session: AsyncSession, batch: list[Pending]) -> None:
        """Row by row, in the file's order, so that a parent is written before its members."""
        for pending in batch:
            if pending.existing is None:
                row = Organisation(id=pending.made or uuid.uuid4(), **pending.values)
                session.add(row)
                before: dict[str, Any] = {}
                action = AuditAction.CREATE
            elif pending.changes:
                row = pending.existing
                code = row.ods_code
                records.apply(row, pending.values)
                if code is not None and row.ods_code != code:
                    # As through the API: tokens naming the old code stop, on every instance.
                    revocations.ods_code_after_commit(session, code.upper())
                before, action = pending.before or {}, AuditAction.UPDATE
            else:
                continue
            await session.flush()
            audit.row_change(
                session,
                self.principal,
                action,
                ResourceType.ORGANISATION,
                row,
                before,
                row.model_dump(),
            )
        await session.flush()
