"""Import organisations from ODS Organisation Reference Data: create or update each by its ODS
code, then link parents from the records' relationships.

All of it goes through the organisation service, so every rule of the API applies (names, ODS
codes, no cycles); one transaction, so a refused record leaves the database as it was; and a
second run of the same file changes nothing (a row is only written when a field differs).
"""

import contextlib
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.principal import Principal
from app.db import ReadContext, side_transaction
from app.errors import FieldIssue, ValidationFailed
from app.models import Organisation
from app.ods import records as ord_records
from app.ods.names import readable
from app.ods.records import OrdOrganisation
from app.ods.roles import TRUST_KINDS, type_of_roles
from app.organisations import service as organisations_service
from app.organisations.schemas import OrganisationCreate, OrganisationUpdate
from app.records import ExpectedVersion
from app.vocabulary import OrganisationType

# The import reads each row inside its own transaction before changing it: any version will do.
ANY_VERSION = ExpectedVersion(frozenset(), any_version=True)


@dataclass
class OdsImportResult:
    """ODS codes, by what the import did with them."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    inactive: list[str] = field(default_factory=list)
    # (code, parent codes named by its relationships, none of which is known here)
    parents_not_found: list[tuple[str, list[str]]] = field(default_factory=list)
    # The name each active record is shown by here (readable case), by ODS code.
    names: dict[str, str] = field(default_factory=dict)
    # Nothing was written: the counts say what a real run would do.
    dry_run: bool = False

    def actions(self) -> list[tuple[str, str, str]]:
        """(what was done or would be, ODS code, name), one per record, in that order."""
        done = [("create", self.created), ("update", self.updated)]
        done += [("unchanged", self.unchanged)]
        rows = [
            (action, code, self.names.get(code, "")) for action, codes in done for code in codes
        ]
        return rows + [("skip inactive", code, "") for code in self.inactive]

    def summary(self) -> str:
        if self.dry_run:
            return "Dry run, nothing written; would be: " + self._counts()
        return self._counts()

    def _counts(self) -> str:
        parts = [
            f"{len(self.created)} created",
            f"{len(self.updated)} updated",
            f"{len(self.unchanged)} unchanged",
        ]
        if self.inactive:
            parts.append(f"{len(self.inactive)} inactive skipped")
        if self.parents_not_found:
            parts.append(f"{len(self.parents_not_found)} with no known parent")
        return ", ".join(parts)


class _RolledBack(Exception):
    """Ends a dry run's transaction: side_transaction rolls back on any exception."""


async def import_ods(
    reads: ReadContext, records: object, *, principal: Principal, dry_run: bool = False
) -> OdsImportResult:
    """``records``: decoded ORD JSON (a list of ``{"Organisation": ...}`` records, or one).
    Every change is the ``principal``'s (checked and audited by the organisation service);
    the command line imports as the operator. ``dry_run``: everything is done, every rule
    checked, then rolled back, so the answer is what a real run would do (a cycle, a name
    refused) and nothing is written, audit events included."""
    result = OdsImportResult(dry_run=dry_run)
    with contextlib.suppress(_RolledBack):
        await _import(reads, records, principal=principal, result=result)
    return result


async def _import(
    reads: ReadContext, records: object, *, principal: Principal, result: OdsImportResult
) -> None:
    organisations = ord_records.parse(records)
    async with side_transaction(reads.factory()) as session:
        by_code = await _existing(session, [o.ods_code for o in organisations])
        active = []
        for index, record in enumerate(organisations):
            if not record.active:
                result.inactive.append(record.ods_code)
                continue
            active.append(record)
            by_code[record.ods_code] = await _upsert(
                session, principal, index, record, by_code.get(record.ods_code), result
            )
        # Parents last, so a record may name one that comes later in the file.
        for record in active:
            await _link_parent(session, principal, record, by_code, result)
        if result.dry_run:
            raise _RolledBack


async def _existing(session: AsyncSession, codes: list[str]) -> dict[str, Organisation]:
    rows = await session.exec(select(Organisation).where(col(Organisation.ods_code).in_(codes)))
    return {row.ods_code: row for row in rows if row.ods_code is not None}


async def _upsert(
    session: AsyncSession,
    principal: Principal,
    index: int,
    record: OrdOrganisation,
    current: Organisation | None,
    result: OdsImportResult,
) -> Organisation:
    kind = type_of_roles(record.role_codes())
    names = {"name": readable(record.name), "officialName": record.name}
    result.names[record.ods_code] = names["name"]
    number = index + 1  # as a person counts records
    try:
        if current is None:
            data = OrganisationCreate.model_validate(
                names | {"odsCode": record.ods_code, "organisationType": kind}
            )
            result.created.append(record.ods_code)
            return await organisations_service.create(session, principal=principal, data=data)
        kind = _refined(current.organisation_type, kind)
        changes = OrganisationUpdate.model_validate(names | {"organisationType": kind})
    except ValidationError as exc:  # the name: everything else was checked by parse()
        raise ValidationFailed(
            f"Record {number} ({record.ods_code}) cannot be imported.",
            errors=[
                FieldIssue((index, "Organisation", "Name"), f"record {number} Name: {e['msg']}")
                for e in exc.errors()
            ],
        ) from exc
    if (changes.name, changes.official_name, changes.organisation_type) == (
        current.name,
        current.official_name,
        current.organisation_type,
    ):
        result.unchanged.append(record.ods_code)
        return current
    result.updated.append(record.ods_code)
    return await organisations_service.update(
        session,
        principal=principal,
        organisation_id=current.id,
        data=changes,
        expected=ANY_VERSION,
    )


def _refined(current: OrganisationType, from_ods: OrganisationType) -> OrganisationType:
    """ODS cannot say what kind of trust an NHS trust is, nor name every type we have: keep
    what someone recorded here when ODS says less."""
    if from_ods == OrganisationType.OTHER:
        return current
    if from_ods == OrganisationType.TRUST and current in TRUST_KINDS:
        return current
    return from_ods


async def _link_parent(
    session: AsyncSession,
    principal: Principal,
    record: OrdOrganisation,
    by_code: dict[str, Organisation],
    result: OdsImportResult,
) -> None:
    named = record.parent_codes()
    known = [code for code in named if code in by_code or await _known(session, code, by_code)]
    if not known:
        if named:
            result.parents_not_found.append((record.ods_code, named))
        return  # no parent named (or none known): a parent set here by hand stays
    organisation = by_code[record.ods_code]
    parent_id = by_code[known[0]].id
    if organisation.parent_id == parent_id:
        return
    if record.ods_code not in result.created and record.ods_code not in result.updated:
        result.unchanged.remove(record.ods_code)
        result.updated.append(record.ods_code)
    by_code[record.ods_code] = await organisations_service.update(
        session,
        principal=principal,
        organisation_id=organisation.id,
        data=OrganisationUpdate.model_validate({"parentId": str(parent_id)}),
        expected=ANY_VERSION,
    )


async def _known(session: AsyncSession, code: str, by_code: dict[str, Organisation]) -> bool:
    """A parent recorded here before, not in this file."""
    found = await _existing(session, [code])
    by_code.update(found)
    return code in found
