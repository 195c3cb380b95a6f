"""Tenancy in one place: what a caller may see, and what it may change.

A caller's scope is one organisation and everything below it, or the whole service. Outside
the scope nothing exists for the caller: reads and writes are 404 with the same words as for a
record that does not exist, so a credential cannot learn which organisations exist elsewhere.
Inside the scope, a role too weak for the change is 403.
"""

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlmodel import col
from sqlmodel import select as sqlmodel_select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.principal import Principal
from app.auth.scope import covers
from app.db import ReadContext, fetch
from app.errors import Forbidden, NotFound
from app.organisations import hierarchy, queries
from app.vocabulary import Role

_VERBS = {Role.READER: "read", Role.EDITOR: "change", Role.ADMIN: "administer"}


def require_role(principal: Principal, need: Role) -> None:
    if not principal.can(need):
        raise Forbidden(
            f"Your credential's role ({principal.role}) may not {_VERBS[need]} this; "
            f"it needs the {need} role."
        )


def no_such_organisation(organisation_id: uuid.UUID) -> NotFound:
    return NotFound(f"Organisation {organisation_id} does not exist.")


async def organisation(
    reads: ReadContext,
    principal: Principal,
    organisation_id: uuid.UUID,
    *,
    need: Role = Role.READER,
) -> Mapping[str, Any]:
    """The one read of an organisation and the one check of it: its row (organisations.queries
    ONE) if the caller may see it (404 otherwise, in the words used for one that does not
    exist) and has the role (403)."""
    rows = await fetch(reads, queries.ONE, {"organisation_id": organisation_id})
    missing = no_such_organisation(organisation_id)
    if not rows:
        raise missing
    await within(reads, principal, organisation_id, need=need, missing=missing)
    return rows[0]


async def within(
    reads: ReadContext,
    principal: Principal,
    organisation_id: uuid.UUID,
    *,
    need: Role = Role.READER,
    missing: NotFound,
) -> None:
    """A record of this organisation (or the organisation itself, read already) is visible to
    the caller (else ``missing``), and the caller has the role (403)."""
    if not await covers(reads, principal, organisation_id):
        raise missing
    require_role(principal, need)


def visible(principal: Principal, organisation_column: Any) -> ColumnElement[bool] | None:
    """A WHERE clause that keeps rows of organisations in the caller's scope; None when the
    caller sees everything."""
    if principal.organisation_id is None:
        return None
    tree = hierarchy.descendants(principal.organisation_id)
    return col(organisation_column).in_(select(tree.c.id))


async def visible_among(
    session: AsyncSession, principal: Principal, organisation_ids: set[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these organisations the caller can see (one query; none when global)."""
    if principal.organisation_id is None or not organisation_ids:
        return set(organisation_ids)
    tree = hierarchy.descendants(principal.organisation_id)
    rows = await session.exec(sqlmodel_select(tree.c.id).where(tree.c.id.in_(organisation_ids)))
    return set(rows.all())


def root_for(principal: Principal, system_root: uuid.UUID) -> uuid.UUID:
    """Where the caller's view of a system starts: the system's top, or the caller's own scope
    when that lies below it (what is above the scope is not there for this caller)."""
    return principal.organisation_id or system_root
