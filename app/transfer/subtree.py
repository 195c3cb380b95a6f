"""Where an import's rows may go: the organisation imported into and every one below it, read
once per import, and how a row names its organisation (by id or by ODS code)."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.errors import FieldIssue
from app.models import Organisation
from app.organisations import hierarchy
from app.transfer.formats import RawRow


@dataclass(frozen=True)
class Subtree:
    """The organisation imported into (``root``) and every one below it, by id and by ODS
    code, with each one's parent (the tree as it stood when the import began)."""

    root: uuid.UUID
    ids: frozenset[uuid.UUID]
    by_code: dict[str, uuid.UUID]
    parent_of: dict[uuid.UUID, uuid.UUID | None]


async def read(session: AsyncSession, organisation_id: uuid.UUID) -> Subtree:
    tree = hierarchy.descendants(organisation_id)
    rows = await session.exec(
        select(Organisation.id, Organisation.ods_code, Organisation.parent_id).where(
            col(Organisation.id).in_(select(tree.c.id))
        )
    )
    found = rows.all()
    return Subtree(
        organisation_id,
        frozenset(row_id for row_id, _, _ in found),
        {code: row_id for row_id, code, _ in found if code is not None},
        {row_id: parent for row_id, _, parent in found},
    )


WHERE = "rows go to the organisation imported into or to its members."
OUTSIDE = f"Not this organisation or one below it: {WHERE}"


def place_record(raw: RawRow, data: Any, subtree: Subtree) -> tuple[uuid.UUID, list[FieldIssue]]:
    """A record's organisation: by organisationId, by organisationOdsCode (both: they agree),
    or the one imported into. A code outside the subtree is refused with the same words
    whether some organisation elsewhere has it or none does."""
    target = data.organisation_id or subtree.root
    code = data.organisation_ods_code
    if code is None:
        if target in subtree.ids:
            return target, []
        return target, [raw.issue("organisationId", OUTSIDE)]
    by_code = subtree.by_code.get(code)
    if by_code is None:
        message = f"No organisation has the ODS code {code} here: {WHERE}"
        return target, [raw.issue("organisationOdsCode", message)]
    if data.organisation_id is not None and data.organisation_id != by_code:
        message = "organisationId and organisationOdsCode name different organisations."
        return target, [
            raw.issue("organisationId", message),
            raw.issue("organisationOdsCode", message),
        ]
    return by_code, []
