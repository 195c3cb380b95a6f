"""The API-key contract. The secret appears once, in ``ApiKeyCreated.key``, and nowhere else."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, JsonValue

from app.api import ApiInput, ApiModel, ApiQuery, Page
from app.fields import QueryText, Text100, UtcDatetime
from app.organisations.schemas import OdsCode
from app.vocabulary import AuditAction, PrincipalKind, ResourceType, Role

_EXAMPLE: dict[str, JsonValue] = {
    "name": "West Yorkshire portal",
    "role": "editor",
    "organisationId": "5b0e3c1e-8f4e-4d8a-9f65-0c1d2e3f4a5b",
    "expiresAt": "2027-03-31T23:59:59Z",
}


class ApiKeyCreate(ApiInput):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    name: Text100 = Field(description="Who or what uses the key, for people reading lists.")
    role: Role
    organisation_id: uuid.UUID | None = Field(
        default=None,
        description="The key's scope: this organisation and everything below it. "
        "Omit or null for the whole service (global admins only).",
    )
    organisation_ods_code: OdsCode | None = Field(
        default=None,
        description="The key's scope by the organisation's ODS code, instead of "
        "organisationId (or beside it: then both must name the same organisation).",
        examples=["RR8"],
    )
    expires_at: UtcDatetime | None = Field(
        default=None,
        description="When the key stops working: in the future, and at most the service's "
        "maximum key lifetime (365 days unless configured otherwise) from now. Omitted or "
        "null: that maximum. Only the operator's command line makes keys that never expire.",
    )


class ApiKeyPublic(ApiModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(
        description="The key's public first part: how lists and logs name it.",
        examples=["lhs_3f9a0c1b2d4e"],
    )
    role: Role
    organisation_id: uuid.UUID | None
    created_by: str = Field(description="The key prefix, token subject or operator.")
    created_at: datetime
    expires_at: datetime | None = Field(
        description="Null only for a key the operator made, from the command line, to never "
        "expire (and for keys made before every key made through the API had to)."
    )
    revoked_at: datetime | None = Field(description="When it was first revoked; null if never.")
    last_used_at: datetime | None = Field(
        description="When a request last used it, to the minute (written at most once a "
        "minute per key); null if never used since this was recorded."
    )
    rotated_at: datetime | None = Field(description="When its secret was last replaced.")
    previous_secret_expires_at: datetime | None = Field(
        description="Until when the secret the last rotation replaced still works; null when "
        "none does.",
    )


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(
        description="The secret, shown this once: it is stored only as a hash. "
        "Send it as 'Authorization: Bearer <key>'.",
        examples=["lhs_3f9a0c1b2d4e_Jx2kq5W0c3P1p7J6vS9fQk1yG4bH8nT2aL5rX0eM7dU"],
    )


GRACE_DEFAULT_SECONDS = 3600
GRACE_MAX_SECONDS = 24 * 3600


class ApiKeyRotate(ApiInput):
    """Every option is optional: send no body, or {}."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"gracePeriodSeconds": 0}]})

    grace_period_seconds: int = Field(
        default=GRACE_DEFAULT_SECONDS,
        ge=0,
        le=GRACE_MAX_SECONDS,
        description="How long the secret being replaced keeps working, in seconds: 0 (refused "
        "at once, for a leaked secret) to 86400 (24 hours); one hour when omitted. Never past "
        "the key's expiry, which a rotation does not move.",
    )


class ApiKeyRotated(ApiKeyCreated):
    """The key with its new secret, shown this once."""


class ApiKeyPage(Page[ApiKeyPublic]):
    pass


class Change(ApiModel):
    field: str
    before: JsonValue
    after: JsonValue


class AuditEventPublic(ApiModel):
    id: uuid.UUID
    occurred_at: datetime
    actor: str = Field(description="The key prefix, token subject or operator who did it.")
    actor_kind: PrincipalKind
    request_id: str | None
    action: AuditAction
    resource_type: ResourceType
    resource_id: str
    organisation_id: uuid.UUID | None
    changes: list[Change]


class AuditEventPage(Page[AuditEventPublic]):
    """A page of audit events, oldest first."""


class AuditFilters(ApiQuery):
    organisation_id: uuid.UUID | None = None
    action: AuditAction | None = Field(
        default=None, description="Only this kind of event (export: who took data out)."
    )
    resource_type: ResourceType | None = None
    resource_id: Annotated[QueryText | None, Field(max_length=64)] = None
    actor: Annotated[QueryText | None, Field(max_length=200)] = None
    since: Annotated[
        UtcDatetime | None, Field(description="Events at or after this moment (ISO 8601).")
    ] = None


class SignedLinkRequest(ApiInput):
    """Every option is optional: send no body, or {}. As in every body, an unknown field is
    refused (422), so a client never believes an option it sent was applied."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"respondent": "Dr A Patel"}]})

    respondent: Text100 | None = Field(
        default=None,
        description="Whom the link is for, in words (a name, a role): carried in the link and "
        "recorded in the audit trail. It grants nothing by itself.",
    )


class SignedLink(ApiModel):
    url: str = Field(description="Open it in a browser: read-only, for this page only.")
    expires_at: datetime
