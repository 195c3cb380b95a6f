"""The change feed on the wire."""

import uuid
from datetime import datetime

from pydantic import Field

from app.api import ApiModel
from app.vocabulary import AuditAction, ResourceType


class ChangeEntry(ApiModel):
    cursor: str = Field(
        description="The cursor just after this change: keep it to resume from here."
    )
    event_id: uuid.UUID = Field(
        description="The audit event this change is (GET /v1/audit-events, for admins: who "
        "did it and which fields changed)."
    )
    resource_type: ResourceType
    resource_id: str
    organisation_id: uuid.UUID | None = Field(
        description="The organisation the resource belongs to (an organisation's own id); null "
        "for what belongs to none (a shared reference model)."
    )
    action: AuditAction = Field(description="create, update or delete.")
    version: int | None = Field(
        description="The resource's version after the change (its ETag); for a deletion, its "
        "last. Null for a resource without versions."
    )
    occurred_at: datetime
    link: str | None = Field(description="Where the resource is read (gone after a deletion).")


class ChangeLinks(ApiModel):
    self: str = Field(description="This page.")
    next: str = Field(description="The next page: always present, as a feed never ends.")


class ChangeFeedPage(ApiModel):
    """Changes in commit order. Follow ``links.next`` (or ask with ``after=next``); an empty
    page comes with Retry-After."""

    items: list[ChangeEntry]
    next: str = Field(description="The cursor to ask with next (after=...).")
    more: bool = Field(description="True when the page was cut at the limit: ask again now.")
    links: ChangeLinks
