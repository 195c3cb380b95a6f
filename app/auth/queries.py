"""Authentication's prebuilt statements (see app.db.prebuilt): a key by its prefix, an
organisation by its ODS code (a token's scope), each read once and then cached."""

from typing import cast

from sqlalchemy import String, Table, bindparam, select, type_coerce
from sqlmodel import col

from app.db import prebuilt
from app.models import ApiKey, Organisation

_KEY = cast(Table, ApiKey.__table__)  # type: ignore[attr-defined]

KEY_BY_PREFIX = prebuilt(
    "auth.key_by_prefix",
    select(
        _KEY.c.id,
        _KEY.c.prefix,
        _KEY.c.secret_hash,
        type_coerce(_KEY.c.role, String).label("role"),
        _KEY.c.organisation_id,
        _KEY.c.expires_at,
        _KEY.c.revoked_at,
        _KEY.c.previous_secret_hash,
        _KEY.c.previous_secret_expires_at,
    ).where(_KEY.c.prefix == bindparam("prefix")),
)

ORGANISATION_BY_ODS_CODE = prebuilt(
    "auth.organisation_by_ods_code",
    select(col(Organisation.id)).where(col(Organisation.ods_code) == bindparam("ods_code")),
)
