"""The one way a reference model enters the service, whatever the path: PUT, a map import,
the operator's command line, and the shipped models at start-up and migration.

One set of rules: an admin loads; only a caller of the whole service (a global admin, or the
operator) loads a base model, which everyone may use; a scoped admin loads variants, which
belong to its scope; the document is validated as a model (the contract PUT uses); the
server sets every timestamp; every load is audited."""

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.audit import service as audit
from app.auth.principal import OPERATOR, Principal
from app.db import reads_in, utcnow
from app.errors import (
    Conflict,
    FieldIssue,
    Forbidden,
    NotFound,
    ValidationFailed,
    VersionRequired,
)
from app.models import Assessment, ReferenceModel
from app.records import ExpectedVersion
from app.reference.schemas import ReferenceModelInput, ReferenceModelPublic, to_public
from app.reference.service import (
    get_versioned,
    refuse_retired,
    shipped_inputs,
    shipped_models,
    visible_owners,
)
from app.vocabulary import AuditAction, ResourceType, Role

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    model: ReferenceModelPublic
    row_version: int
    created: bool


def validated(document: Any, *, at: tuple[str | int, ...] = ()) -> ReferenceModelInput:
    """A document from elsewhere (a map, a file) checked as PUT checks its body: the same
    contract, read as JSON is read. ``at`` prefixes the fields its problems name."""
    try:
        return ReferenceModelInput.model_validate_json(json.dumps(document))
    except ValidationError as exc:
        issues = [
            FieldIssue((*at, *error["loc"]), error["msg"])
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise ValidationFailed("The reference model is not valid.", errors=issues) from exc


def stored_document(model: ReferenceModelPublic) -> dict[str, Any]:
    """What is stored of a model: not its status, which the service decides (a retired
    version's stored bytes never change)."""
    return model.model_dump(mode="json", by_alias=True, exclude={"status"})


async def load(
    session: AsyncSession,
    *,
    principal: Principal,
    version: str,
    data: ReferenceModelInput,
    expected: ExpectedVersion | None = None,
    create_only: bool = False,
) -> Loaded:
    """Create a version, or (unless ``create_only``) replace one that no assessment uses yet.
    Flushes; the caller's transaction commits the model and its audit event together."""
    if not principal.can(Role.ADMIN):
        raise Forbidden("Loading a reference model needs the admin role.")
    if data.based_on is None and not principal.is_global:
        raise Forbidden(
            "A base model may become everyone's default: only an admin of the whole service "
            "loads one. Set basedOn to load a variant for your organisation."
        )
    if data.version is not None and data.version != version:
        raise ValidationFailed(
            "The body's version differs from the URL's.",
            errors=[FieldIssue("version", f"Must be {version!r} or omitted.")],
        )
    if data.based_on == version:
        raise ValidationFailed(
            "A model cannot be based on itself.",
            errors=[FieldIssue("based_on", "Name the version this one adapts.")],
        )
    owners = await visible_owners(reads_in(session), principal)
    if data.based_on is not None:
        try:
            base, _ = await get_versioned(reads_in(session), data.based_on, owners=owners)
        except NotFound as exc:
            raise ValidationFailed(
                "basedOn names a model that does not exist.",
                errors=[FieldIssue("based_on", f"No reference model {data.based_on!r}.")],
            ) from exc
        await refuse_retired(reads_in(session), base)
    model = to_public(data, version=version)
    shipped = next((m for m in shipped_models() if m.version == version), None)
    existing = (
        await session.exec(
            select(ReferenceModel).where(ReferenceModel.version == version).with_for_update()
        )
    ).first()
    if shipped is not None and (existing is not None or model != shipped):
        raise Conflict(
            f"Reference model {version} ships with the service and is read-only: load your "
            "changes as a new version (set basedOn to make it a variant)."
        )
    if existing is None:
        return await _create(session, principal, model)
    if create_only:
        raise Conflict(f"Reference model {version} exists here already.")
    if existing.organisation_id != principal.organisation_id and not principal.is_global:
        # Another organisation's variant, or everyone's model: not this caller's to change.
        if (
            existing.organisation_id is None
            or owners is None
            or existing.organisation_id not in owners
        ):
            raise Conflict(f"Reference model {version} exists and is not yours to replace.")
        raise Forbidden(f"Reference model {version} belongs to an organisation above yours.")
    return await _replace(session, principal, existing, model, expected)


async def _create(
    session: AsyncSession, principal: Principal, model: ReferenceModelPublic
) -> Loaded:
    now = utcnow()
    row = ReferenceModel(
        version=model.version,
        title=model.title,
        based_on=model.based_on,
        # A variant is its loader's: visible and usable in that scope's subtree only.
        organisation_id=principal.organisation_id,
        document=stored_document(model),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"Reference model {model.version} was created meanwhile.") from exc
    _audit(session, principal, AuditAction.CREATE, row, {})
    return Loaded(model, 1, True)


async def _replace(
    session: AsyncSession,
    principal: Principal,
    existing: ReferenceModel,
    model: ReferenceModelPublic,
    expected: ExpectedVersion | None,
) -> Loaded:
    version = existing.version
    if expected is None:
        raise VersionRequired(
            f"Reference model {version} exists: send If-Match with its ETag to replace it."
        )
    expected.check(current=existing.row_version, what=f"Reference model {version}")
    uses = (
        await session.exec(
            select(func.count()).where(Assessment.reference_model_version == version)
        )
    ).one()
    if uses:
        raise Conflict(
            f"Reference model {version} is pinned by {uses} stored assessment(s) and cannot "
            "change; load the new content under a new version to supersede it."
        )
    before = _summary(existing)
    existing.title = model.title
    existing.based_on = model.based_on
    existing.document = stored_document(model)
    existing.row_version += 1
    existing.updated_at = utcnow()
    await session.flush()
    _audit(session, principal, AuditAction.UPDATE, existing, before)
    return Loaded(model, existing.row_version, False)


async def install_shipped(session: AsyncSession) -> None:
    """Load each shipped version that is missing, as the operator, through the gate; safe when
    many instances start together. Commits on its own: it runs at start-up and after a
    migration, outside any request.

    A shipped version already stored is brought up to this release's file when they differ:
    nobody can PUT over a shipped version, so the stored copy can only be an earlier release's
    (a version is finished within the release that introduces it). The rule of a PUT holds
    here too: a copy that stored assessments pin is left as it is, and the log says so."""
    try:
        present = set((await session.exec(select(ReferenceModel.version))).all())
        for data in shipped_inputs():
            version = str(data.version)
            if version in present:
                await _refresh_shipped(session, data)
                continue
            try:
                await load(session, principal=OPERATOR, version=version, data=data)
                await session.commit()
            except (IntegrityError, Conflict):  # another instance stored it first
                await session.rollback()
    except SQLAlchemyError as exc:
        await session.rollback()
        if "no such table" in str(exc) or "does not exist" in str(exc):
            logger.warning("reference models not installed: the database is not migrated yet")
        else:  # e.g. a read-only database file: say so, the operator must act
            logger.error("reference models not installed: %s", getattr(exc, "orig", exc))


async def _refresh_shipped(session: AsyncSession, data: ReferenceModelInput) -> None:
    model = to_public(data, version=str(data.version))
    row = (
        await session.exec(
            select(ReferenceModel).where(ReferenceModel.version == model.version).with_for_update()
        )
    ).first()
    if row is None or row.document == stored_document(model):
        await session.rollback()
        return
    uses = (
        await session.exec(
            select(func.count()).where(Assessment.reference_model_version == model.version)
        )
    ).one()
    if uses:
        await session.rollback()
        logger.warning(
            "reference model %s differs from this release's but %d stored assessment(s) pin it: "
            "left as stored",
            model.version,
            uses,
        )
        return
    await _replace(session, OPERATOR, row, model, ExpectedVersion(frozenset({row.row_version})))
    await session.commit()
    logger.info("reference model %s brought up to this release's", model.version)


def _summary(row: ReferenceModel) -> dict[str, Any]:
    """What the audit trail keeps of a model: not the whole document (which may be a damaged
    one an admin is replacing)."""
    document = row.document if isinstance(row.document, dict) else {}
    capabilities = document.get("capabilities")
    return {
        "title": row.title,
        "based_on": row.based_on,
        "organisation_id": row.organisation_id,
        "capabilities": len(capabilities) if isinstance(capabilities, list) else 0,
        "document_sha256": hashlib.sha256(
            json.dumps(row.document, sort_keys=True).encode()
        ).hexdigest(),
    }


def _audit(
    session: AsyncSession,
    principal: Principal,
    action: AuditAction,
    row: ReferenceModel,
    before: dict[str, Any],
) -> None:
    audit.record(
        session,
        principal=principal,
        action=action,
        resource_type=ResourceType.REFERENCE_MODEL,
        resource_id=row.version,
        organisation_id=row.organisation_id,
        changes=audit.diff(before, _summary(row)),
    )
