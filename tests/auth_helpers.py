"""Builders for access-control tests: keys through the service, as the API and CLI make them."""

import uuid
from datetime import datetime, timedelta

from app.auth import keys_service
from app.auth.principal import OPERATOR, Principal
from app.auth.schemas import ApiKeyCreate
from app.db import Sessions
from app.models import ApiKey


async def make_key(
    sessions: Sessions,
    role: str,
    organisation_id: uuid.UUID | str | None = None,
    *,
    by: Principal = OPERATOR,
    expires_at: datetime | None = None,
    name: str = "test key",
    max_lifetime: timedelta | None = None,
) -> tuple[ApiKey, str]:
    """A key made as the command line makes it (no lifetime cap) unless ``max_lifetime`` is
    given, as the API gives it."""
    data = ApiKeyCreate.model_validate(
        {
            "name": name,
            "role": role,
            "organisationId": str(organisation_id) if organisation_id else None,
            "expiresAt": expires_at.isoformat() if expires_at else None,
        }
    )
    async with sessions.write() as session:
        row, key = await keys_service.create(
            session, principal=by, data=data, max_lifetime=max_lifetime
        )
        await session.commit()
    return row, key
