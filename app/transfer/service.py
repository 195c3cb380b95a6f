"""Importing assets, activities or plan items from a file: all or nothing, in the request's
unit of work.

Rows are validated by the create endpoints' own schema and rules (capability of the model and
area, the evidence rules, which assets an activity may use) and written in batches as they are
read, so a file of any length is held a batch at a time. Once a row is refused nothing more is
written, the rest of the file is still checked (so that every refused row is reported), and
the refusal rolls back what earlier batches wrote. A dry run checks the same and writes
nothing."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth import access
from app.auth.principal import Principal
from app.db import reads_in
from app.errors import FieldIssue, ValidationFailed, input_message
from app.reference import service as reference_service
from app.transfer import subtree
from app.transfer.formats import MAX_ROWS, RawRow, too_many_rows
from app.transfer.kinds import Kind, Pending
from app.transfer.schemas import ImportResult, ImportRowResult, RowAction
from app.vocabulary import Role

BATCH_ROWS = 500
# A refusal lists this many problems at most (its detail gives the full count of rows).
MAX_ISSUES = 1000
# An answer lists this many rows' results at most, the first ones (its counts cover every
# row): the import holds a batch, never the file, and neither does its answer.
MAX_RESULTS = 1000


@dataclass
class Outcome:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused_rows: int = 0
    issues: list[FieldIssue] = field(default_factory=list)
    seen_ids: dict[uuid.UUID, int] = field(default_factory=dict)
    seen_keys: dict[tuple[uuid.UUID, str], int] = field(default_factory=dict)
    results: list[ImportRowResult] = field(default_factory=list)
    more_results: int = 0

    def refuse(self, row: RawRow, issues: list[FieldIssue]) -> None:
        self.refused_rows += 1
        self.issues.extend(issues[: max(0, MAX_ISSUES - len(self.issues))])


async def run(
    session: AsyncSession,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    kind: Kind,
    rows: AsyncIterator[RawRow],
    dry_run: bool,
) -> ImportResult:
    """Import the rows into the organisation (or, row by row, one below it). The caller edits
    the organisation, so its whole subtree is in the caller's scope too."""
    await access.organisation(reads_in(session), principal, organisation_id, need=Role.EDITOR)
    tree = await subtree.read(session, organisation_id)
    model = await reference_service.get(session)
    outcome = Outcome()
    batch: list[Pending] = []
    async for raw in rows:
        outcome.rows += 1
        if outcome.rows > MAX_ROWS:
            raise too_many_rows()
        pending = _validate(raw, kind, tree, outcome)
        if pending is None:
            continue
        issues = kind.check(model, pending)
        if issues:
            outcome.refuse(raw, issues)
            continue
        batch.append(pending)
        if len(batch) >= BATCH_ROWS:
            await _settle(session, kind, batch, outcome, write=not dry_run)
            batch = []
    if batch:
        await _settle(session, kind, batch, outcome, write=not dry_run)
    if outcome.refused_rows:
        shown = "" if len(outcome.issues) < MAX_ISSUES else f" (the first {MAX_ISSUES} shown)"
        raise ValidationFailed(
            f"{outcome.refused_rows} of {outcome.rows} row(s) were refused{shown}; nothing was "
            "imported. errors[] gives each one's line, column and reason.",
            errors=sorted(outcome.issues, key=lambda issue: issue.line or 0),
        )
    return ImportResult(
        dry_run=dry_run,
        rows=outcome.rows,
        created=outcome.created,
        updated=outcome.updated,
        unchanged=outcome.unchanged,
        results=outcome.results,
        more_results=outcome.more_results,
    )


def _validate(
    raw: RawRow,
    kind: Kind,
    tree: subtree.Subtree,
    outcome: Outcome,
) -> Pending | None:
    """The row through the create schema, and the file-wide rules: its organisation is in the
    subtree, and no id or externalId appears twice in the file."""
    issues = list(raw.issues)
    data = None
    try:
        data = kind.row_model.model_validate(raw.values)
    except ValidationError as exc:
        for error in exc.errors():
            loc = error.get("loc", ())
            column = str(loc[0]) if loc else ""
            message = input_message(error)
            if len(loc) > 1:
                message = f"{'/'.join(map(str, loc[1:]))}: {message}"
            issues.append(raw.issue(column, message))
    target = tree.root
    if data is not None:
        target, refused = kind.place(raw, data, tree)
        issues += refused
        if data.id is not None:
            first = outcome.seen_ids.setdefault(data.id, raw.line)
            if first != raw.line:
                issues.append(raw.issue("id", f"The same id is on line {first}."))
        external_id = getattr(data, "external_id", None)
        if external_id is not None:
            first = outcome.seen_keys.setdefault((target, external_id), raw.line)
            if first != raw.line:
                issues.append(raw.issue("externalId", f"The same externalId is on line {first}."))
    if issues or data is None:
        outcome.refuse(raw, issues)
        return None
    return Pending(raw, data, target)


async def _settle(
    session: AsyncSession, kind: Kind, batch: list[Pending], outcome: Outcome, *, write: bool
) -> None:
    """Match the batch with what is stored, check what needs the database, and write it while
    no row of the file has been refused."""
    await kind.match(session, batch, lock=write)
    for pending in batch:
        if pending.existing is not None:
            first = outcome.seen_ids.setdefault(pending.existing.id, pending.raw.line)
            if first != pending.raw.line:
                pending.issues.append(
                    pending.raw.issue("externalId", f"Line {first} updates the same record.")
                )
        if pending.issues:
            outcome.refuse(pending.raw, pending.issues)
    if outcome.refused_rows:
        return
    if write:
        await kind.write(session, batch)
    for pending in batch:
        if pending.existing is None:
            outcome.created += 1
            action = RowAction.CREATE
        elif pending.changes:
            outcome.updated += 1
            action = RowAction.UPDATE
        else:
            outcome.unchanged += 1
            action = RowAction.UNCHANGED
        if len(outcome.results) >= MAX_RESULTS:
            outcome.more_results += 1
            continue
        outcome.results.append(
            ImportRowResult(
                row=pending.raw.line,
                action=action,
                # A dry run's create has no record to name.
                id=pending.record_id if write or pending.existing is not None else None,
                external_id=getattr(pending.data, "external_id", None),
            )
        )
    if write:
        # Written rows need not stay in the session: it holds one batch, not the file.
        session.expunge_all()
