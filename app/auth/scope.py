"""Scope checks that need the organisation tree: is a record inside the caller's subtree?"""

import uuid

from app.auth.principal import Principal, may_grant_role
from app.db import ReadContext
from app.organisations import hierarchy
from app.vocabulary import Role


def lineage_covered(principal: Principal, lineage: list[uuid.UUID]) -> bool:
    """The caller's scope covers an organisation whose lineage (itself and every organisation
    above it) is given."""
    return principal.organisation_id is None or principal.organisation_id in lineage


async def covers(reads: ReadContext, principal: Principal, organisation_id: uuid.UUID) -> bool:
    """The organisation is the caller's scope or below it (one query; none when global)."""
    if principal.organisation_id in (None, organisation_id):
        return True
    lineage = await hierarchy.ancestor_ids(reads, organisation_id, include_self=True)
    return lineage_covered(principal, lineage)


async def may_mint(
    reads: ReadContext, principal: Principal, *, role: Role, organisation_id: uuid.UUID | None
) -> bool:
    """A key with this role and scope grants no more power and no wider scope than the
    caller's own: a global key only from a global admin, a scoped one inside the caller's."""
    if not may_grant_role(principal, role):
        return False
    if organisation_id is None:
        return principal.is_global
    return await covers(reads, principal, organisation_id)
