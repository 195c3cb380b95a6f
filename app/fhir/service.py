"""Reads for the FHIR view: an organisation and its parent, through the organisation service,
so that the caller's access scope applies here too."""

import uuid

from app.auth.principal import Principal
from app.db import ReadContext
from app.errors import NotFound
from app.organisations import service as organisations_service
from app.organisations.schemas import OrganisationPublic


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
