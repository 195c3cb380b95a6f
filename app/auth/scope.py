"""Scope checks that need the organisation tree: is a record inside the caller's subtree?"""

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.principal import Principal, may_grant_role
from app.auth.vocabulary import Role
from app.organisations import hierarchy


async def covers(session: AsyncSession, principal: Principal, organisation_id: uuid.UUID) -> bool:
    """The organisation is the caller's scope or below it (one query; none when global)."""
    if principal.organisation_id is None:
        return True
    if principal.organisation_id == organisation_id:
        return True
    above = await hierarchy.ancestor_ids(session, organisation_id, include_self=False)
    return principal.organisation_id in above


async def may_mint(
    session: AsyncSession, principal: Principal, *, role: Role, organisation_id: uuid.UUID | None
) -> bool:
    """A key with this role and scope grants no more power and no wider scope than the
    caller's own: a global key only from a global admin, a scoped one inside the caller's."""
    if not may_grant_role(principal, role):
        return False
    if organisation_id is None:
        return principal.is_global
    return await covers(session, principal, organisation_id)
