"""Handing a signed link out: sign it, and put on record who asked, for what path, which
actions, for whom and until when. Every operation that mints a link (the report's, a
self-assessment's) goes through here, so each is audited alike."""

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from app.audit import service as audit
from app.auth.links import LinkAction, LinkSigner
from app.auth.principal import Principal
from app.db import utcnow
from app.vocabulary import AuditAction, ResourceType


def mint(
    session: AsyncSession,
    *,
    signer: LinkSigner,
    principal: Principal,
    organisation_id: uuid.UUID,
    resource_id: uuid.UUID,
    path: str,
    actions: Iterable[LinkAction] = (LinkAction.READ,),
    respondent: str | None = None,
) -> tuple[str, datetime]:
    """The link's token and when it expires; the caller has checked ``principal`` may."""
    wanted = sorted(set(actions))
    token = signer.sign(principal, path, actions=wanted, respondent=respondent)
    expires_at = utcnow() + signer.default_ttl
    recorded: dict[str, object] = {
        "path": path,
        "expires_at": expires_at,
        "actions": [action.value for action in wanted],
    }
    if respondent is not None:
        recorded["respondent"] = respondent
    audit.record(
        session,
        principal=principal,
        action=AuditAction.CREATE,
        resource_type=ResourceType.REPORT_LINK,
        resource_id=resource_id,
        organisation_id=organisation_id,
        changes=audit.diff({}, recorded),
    )
    return token, expires_at
