"""Reads for the FHIR view: an organisation and its parent, through the organisation service,
so that the caller's access scope applies here too; and the Organization search, scoped the
same way (access.visible, as every list)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth import access
from app.auth.principal import Principal
from app.db import ReadContext
from app.errors import NotFound
from app.fhir.search import IdentifierMatch
from app.models import Organisation
from app.organisations import service as organisations_service
from app.organisations.schemas import OrganisationPublic
from app.pagination import PageParams, decode_cursor, keyset


async def with_parent(
    reads: ReadContext, *, organisation_id: uuid.UUID, principal: Principal
) -> tuple[OrganisationPublic, OrganisationPublic | None]:
    """The organisation, and its parent when the caller may see it (a caller scoped to a trust
    does not see its ICS: ``partOf`` then names the parent by its address only)."""
    organisation = await organisations_service.get(reads, organisation_id, principal=principal)
    parent = None
    if organisation.parent_id is not None:
        try:
            parent = await organisations_service.get(
                reads, organisation.parent_id, principal=principal
            )
        except NotFound:
            parent = None
    return organisation, parent


@dataclass(frozen=True)
class Found:
    """A page of matches (with the look-ahead row), their parents the caller may see, and the
    number of matches on every page."""

    rows: Sequence[Organisation]
    parents: dict[uuid.UUID, Organisation]
    total: int


async def search(
    session: AsyncSession, *, principal: Principal, match: IdentifierMatch, page: PageParams
) -> Found:
    if page.cursor is not None:
        decode_cursor(page.cursor)  # a bad cursor is refused even when nothing matches
    conditions = []
    in_scope = access.visible(principal, Organisation.id)
    if in_scope is not None:
        conditions.append(in_scope)
    if not match.everything:
        if match.codes is None:
            conditions.append(col(Organisation.ods_code).is_not(None))
        elif not match.codes:
            return Found(rows=[], parents={}, total=0)
        else:
            conditions.append(col(Organisation.ods_code).in_(sorted(match.codes)))
    counted = select(func.count()).select_from(Organisation).where(*conditions)
    total = (await session.exec(counted)).one()
    rows: Sequence[Organisation] = []
    if page.limit and total:
        statement = keyset(
            select(Organisation).where(*conditions),
            created_at=col(Organisation.created_at),
            row_id=col(Organisation.id),
            params=page,
        )
        rows = (await session.exec(statement)).all()
    parent_ids = {row.parent_id for row in rows if row.parent_id is not None}
    parents: dict[uuid.UUID, Organisation] = {}
    if parent_ids:
        statement = select(Organisation).where(col(Organisation.id).in_(parent_ids))
        if in_scope is not None:
            statement = statement.where(in_scope)
        parents = {row.id: row for row in (await session.exec(statement)).all()}
    return Found(rows=rows, parents=parents, total=total)
