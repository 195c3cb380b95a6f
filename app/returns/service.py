"""Importing an organisation's DMA or NHS IMPACT return: all or nothing, in the request's
unit of work, audited, and idempotent by framework and year (a year imported again replaces
the year's rows: a row whose score and validation are the same is unchanged, keeping its id).

The rows are the organisation's own (never a member's): a return is made by one organisation.
A file is small (a row per pillar or component, and per domain), so it is read whole."""

import uuid
from collections.abc import AsyncIterator, Sequence

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.audit import service as audit
from app.auth import access
from app.auth.principal import Principal
from app.db import reads_in, utcnow
from app.errors import FieldIssue, ValidationFailed
from app.models import Organisation, ReturnScore
from app.returns.credits import StoredScore
from app.returns.rows import HEADING_COLUMN, ReturnRow, parse
from app.transfer.formats import RawRow
from app.transfer.schemas import ImportResult, ImportRowResult, RowAction
from app.vocabulary import AuditAction, ResourceType, ReturnFramework, Role

# A return has a row per heading and per domain: far fewer than this, even for many years.
MAX_ROWS = 500


async def stored(session: AsyncSession, organisation_id: uuid.UUID) -> list[StoredScore]:
    """Every score the organisation has imported, for the analysis to credit."""
    rows = await session.exec(
        select(ReturnScore).where(ReturnScore.organisation_id == organisation_id)
    )
    return [
        StoredScore(r.framework, r.year, r.heading, r.domain, r.score, r.validated)
        for r in rows.all()
    ]


async def _read(
    framework: ReturnFramework, rows: AsyncIterator[RawRow], this_year: int
) -> tuple[list[ReturnRow], int, list[FieldIssue]]:
    parsed: list[ReturnRow] = []
    issues: list[FieldIssue] = []
    count = 0
    seen: dict[tuple[int, str, str | None], int] = {}
    async for raw in rows:
        count += 1
        if count > MAX_ROWS:
            raise ValidationFailed(
                f"A return has at most {MAX_ROWS} rows; this file has more.",
                errors=[FieldIssue((), f"Row {raw.line} is past the limit.", line=raw.line)],
            )
        row = parse(framework, raw, utcnow().year)
        if row is not None:
            key = (row.year, row.heading, (row.domain or "").casefold() or None)
            first = seen.setdefault(key, raw.line)
            if first != raw.line:
                what = row.heading + (f" / {row.domain}" if row.domain else "")
                raw.issues.append(
                    raw.issue(
                        HEADING_COLUMN[framework],
                        f"Got {what} for {row.year} again; expected one row each (line "
                        f"{first} has it).",
                    )
                )
            else:
                parsed.append(row)
        issues.extend(raw.issues)
    return parsed, count, issues


async def run(
    session: AsyncSession,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    framework: ReturnFramework,
    rows: AsyncIterator[RawRow],
    dry_run: bool,
) -> ImportResult:
    """Import the return's rows into the organisation, replacing each year the file holds."""
    await access.organisation(reads_in(session), principal, organisation_id, need=Role.EDITOR)
    parsed, count, issues = await _read(framework, rows, utcnow().year)
    if issues:
        refused = len({issue.line for issue in issues})
        raise ValidationFailed(
            f"{refused} of {count} row(s) were refused; nothing was imported. errors[] gives "
            "each one's line, column, the value and what was expected.",
            errors=sorted(issues, key=lambda issue: issue.line or 0),
        )
    if not parsed:
        raise ValidationFailed(
            "The file has no rows: a return needs at least one score.",
            errors=[FieldIssue((), "No rows after the header.", pointer="body", line=1)],
        )
    years = sorted({row.year for row in parsed})
    if not dry_run:
        # Two imports of the same year at once would both find nothing and both insert: the
        # organisation's row is the lock they queue on (SQLite has one writer anyway).
        await session.exec(
            select(Organisation.id).where(Organisation.id == organisation_id).with_for_update()
        )
    existing = (
        await session.exec(
            select(ReturnScore)
            .where(
                ReturnScore.organisation_id == organisation_id,
                ReturnScore.framework == framework,
                col(ReturnScore.year).in_(years),
            )
            .with_for_update()
        )
    ).all()
    by_key = {(r.year, r.heading, r.domain): r for r in existing}
    now = utcnow()
    results: list[ImportRowResult] = []
    kept: set[uuid.UUID] = set()
    for row in parsed:
        match = by_key.get((row.year, row.heading, row.domain))
        if match is None:
            record = ReturnScore(
                organisation_id=organisation_id,
                framework=framework,
                year=row.year,
                heading=row.heading,
                domain=row.domain,
                score=row.score,
                validated=row.validated,
                imported_at=now,
            )
            if not dry_run:
                session.add(record)
            results.append(
                ImportRowResult(
                    row=row.line, action=RowAction.CREATE, id=None if dry_run else record.id
                )
            )
            continue
        kept.add(match.id)
        changed = (match.score, match.validated) != (row.score, row.validated)
        if changed and not dry_run:
            match.score, match.validated, match.imported_at = row.score, row.validated, now
        results.append(
            ImportRowResult(
                row=row.line,
                action=RowAction.UPDATE if changed else RowAction.UNCHANGED,
                id=match.id,
            )
        )
    dropped = [r.id for r in existing if r.id not in kept]
    if not dry_run:
        if dropped:
            await session.exec(delete(ReturnScore).where(col(ReturnScore.id).in_(dropped)))
        await session.flush()
        _audit(session, principal, organisation_id, framework, years, existing, parsed)
    return ImportResult(
        dry_run=dry_run,
        rows=count,
        created=sum(1 for r in results if r.action == RowAction.CREATE),
        updated=sum(1 for r in results if r.action == RowAction.UPDATE),
        unchanged=sum(1 for r in results if r.action == RowAction.UNCHANGED),
        results=results,
    )


def _audit(
    session: AsyncSession,
    principal: Principal,
    organisation_id: uuid.UUID,
    framework: ReturnFramework,
    years: Sequence[int],
    before: Sequence[ReturnScore],
    after: Sequence[ReturnRow],
) -> None:
    """One event per year imported: its scores before and after (a row the new file lacks is
    gone after)."""
    for year in years:

        def scores(rows: Sequence[ReturnScore | ReturnRow], y: int = year) -> dict[str, int]:
            return {
                r.heading + (f" / {r.domain}" if r.domain else ""): r.score
                for r in rows
                if r.year == y
            }

        audit.record(
            session,
            principal=principal,
            action=AuditAction.UPDATE if scores(before) else AuditAction.CREATE,
            resource_type=ResourceType.RETURN,
            resource_id=f"{framework} {year}",
            organisation_id=organisation_id,
            changes=audit.diff(
                {"scores": scores(before)} if scores(before) else {},
                {"scores": scores(after)},
            ),
        )
