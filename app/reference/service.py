"""Reference model use cases: install the shipped versions, read, load new ones, and check
that an asset's or activity's capabilityKey exists in the current model."""

import hashlib
import json
import logging
import uuid
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from sqlalchemy import Select, bindparam, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth import audit
from app.auth.principal import Principal
from app.auth.vocabulary import AuditAction, ResourceType, Role
from app.db import Source, fetch, utcnow
from app.errors import (
    Conflict,
    FieldIssue,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
    VersionRequired,
)
from app.models import Assessment, ReferenceModel
from app.organisations import hierarchy
from app.records import ExpectedVersion
from app.reference.schemas import (
    Capability,
    ReferenceModelInput,
    ReferenceModelPublic,
    ReferenceModelSummary,
    to_public,
)
from app.vocabulary import Area

logger = logging.getLogger(__name__)
DATA_DIR = Path(__file__).parent / "data"


@lru_cache
def shipped_models() -> tuple[ReferenceModelPublic, ...]:
    """The versions in the package's data files, validated like any PUT."""
    models = []
    for path in sorted(DATA_DIR.glob("*.yaml")):
        # The file is YAML, not JSON: let strings name enum members, as JSON would.
        data = ReferenceModelInput.model_validate(
            yaml.safe_load(path.read_text("utf-8")), strict=False
        )
        assert data.version is not None, f"{path.name} must name its version"
        models.append(to_public(data, version=data.version))
    return tuple(models)


async def install_shipped(session: AsyncSession) -> None:
    """Store each shipped version once; safe when many instances start together. Commits on
    its own: it runs at start-up, outside any request."""
    try:
        present = set((await session.exec(select(ReferenceModel.version))).all())
        for model in shipped_models():
            if model.version in present:
                continue
            session.add(_row(model))
            try:
                await session.commit()
            except IntegrityError:  # another instance stored it first
                await session.rollback()
    except SQLAlchemyError as exc:
        await session.rollback()
        if "no such table" in str(exc) or "does not exist" in str(exc):
            logger.warning("reference models not installed: the database is not migrated yet")
        else:  # e.g. a read-only database file: say so, the operator must act
            logger.error("reference models not installed: %s", getattr(exc, "orig", exc))


def shipped_rows() -> list[dict[str, Any]]:
    """The shipped versions as rows, for the migration environment to insert (synchronously)."""
    now = utcnow()
    return [
        _row(model).model_dump() | {"created_at": now, "updated_at": now}
        for model in shipped_models()
    ]


def _row(model: ReferenceModelPublic) -> ReferenceModel:
    return ReferenceModel(
        version=model.version,
        title=model.title,
        based_on=model.based_on,
        document=model.model_dump(mode="json", by_alias=True),
    )


# Parsed documents by (version, rowVersion, updatedAt): a replaced model gets a new key, so
# every instance behind the load balancer sees the change without any shared cache.
_parsed: dict[tuple[str, int, datetime], ReferenceModelPublic] = {}
_PARSED_MAX = 32


async def get(session: AsyncSession, version: str | None = None) -> ReferenceModelPublic:
    """A version, or the default: the latest base model (variants are chosen by name)."""
    return (await get_versioned(session, version))[0]


async def visible_owners(session: AsyncSession, principal: Principal) -> list[uuid.UUID] | None:
    """Whose variants the caller may see: those of its scope and of organisations above it
    (a variant is visible inside its organisation's subtree); None for a global caller."""
    if principal.organisation_id is None:
        return None
    return await hierarchy.ancestor_ids(session, principal.organisation_id, include_self=True)


S = TypeVar("S", bound=Select[*tuple[Any, ...]])


def _latest_base(statement: S) -> S:
    """The default model: the most recently loaded base model (variants only when named)."""
    return statement.where(col(ReferenceModel.based_on).is_(None)).order_by(
        col(ReferenceModel.created_at).desc(), col(ReferenceModel.version).desc()
    )


# Built once (see db.fetch): an analysis chooses its model on every request. What names a
# model's parsed document, and whose variant it is.
_CHOICE = sa_select(
    col(ReferenceModel.version),
    col(ReferenceModel.row_version),
    col(ReferenceModel.updated_at),
    col(ReferenceModel.organisation_id),
)
_BY_VERSION = _CHOICE.where(col(ReferenceModel.version) == bindparam("version"))
# Every base model, the default first; few (one per release of the shipped model, say).
_BASES = _latest_base(_CHOICE)
_DOCUMENT = sa_select(col(ReferenceModel.document)).where(
    col(ReferenceModel.version) == bindparam("version")
)


async def get_versioned(
    source: Source, version: str | None = None, *, owners: list[uuid.UUID] | None = None
) -> tuple[ReferenceModelPublic, int]:
    """A model with its row version, so a writer can check later that it did not change.
    ``owners``: whose variants may be returned (None: anyone's); others do not exist."""
    if version is None:
        rows = await fetch(source, _BASES, {})
    else:
        rows = await fetch(source, _BY_VERSION, {"version": version})
    found = next(
        (r for r in rows if owners is None or r["organisation_id"] in (None, *owners)), None
    )
    if found is None:
        if version is None:
            raise ServiceUnavailable(
                "No reference model is installed: the service started before the database was "
                "migrated. Restart it after 'alembic upgrade head'."
            )
        raise NotFound(f"Reference model {version} does not exist.")
    key = (found["version"], found["row_version"], found["updated_at"])
    model = _parsed.get(key)
    if model is None:
        (row,) = await fetch(source, _DOCUMENT, {"version": key[0]})
        model = ReferenceModelPublic.model_validate(row["document"])
        if len(_parsed) >= _PARSED_MAX:
            _parsed.clear()
        _parsed[key] = model
    return model, key[1]


async def chosen(
    source: Source, version: str | None, *, owners: list[uuid.UUID]
) -> tuple[ReferenceModelPublic, int]:
    """The model a request names for an organisation (a bad name is the request's fault: 422),
    or the default, with its row version. A variant is usable only inside its organisation's
    subtree: ``owners`` are the organisation and those above it."""
    try:
        return await get_versioned(source, version, owners=owners)
    except NotFound as exc:
        raise ValidationFailed(
            f"Reference model {version} does not exist.",
            errors=[
                FieldIssue(
                    "reference_model", "Unknown reference model version; see /v1/reference-models."
                )
            ],
        ) from exc


async def default_version(session: AsyncSession) -> str | None:
    return (await session.exec(_latest_base(select(ReferenceModel.version)).limit(1))).first()


async def list_summaries(
    session: AsyncSession, *, principal: Principal
) -> list[ReferenceModelSummary]:
    statement = select(ReferenceModel).order_by(col(ReferenceModel.created_at))
    owners = await visible_owners(session, principal)
    if owners is not None:
        statement = statement.where(
            or_(
                col(ReferenceModel.organisation_id).is_(None),
                col(ReferenceModel.organisation_id).in_(owners),
            )
        )
    rows = (await session.exec(statement)).all()
    used = set((await session.exec(select(Assessment.reference_model_version).distinct())).all())
    default = await default_version(session)
    return [
        ReferenceModelSummary(
            version=row.version,
            title=row.title,
            based_on=row.based_on,
            organisation_id=row.organisation_id,
            published_on=row.document["publishedOn"],
            capability_count=len(row.document["capabilities"]),
            is_default=row.version == default,
            in_use=row.version in used,
        )
        for row in rows
    ]


async def put(
    session: AsyncSession,
    *,
    principal: Principal,
    version: str,
    data: ReferenceModelInput,
    expected: ExpectedVersion | None,
) -> tuple[ReferenceModelPublic, int, bool]:
    """Create a version, or replace one that no assessment uses yet. Returns (model, rowVersion,
    created). A base model is everyone's default: only an admin of the whole service loads
    one. An admin scoped to an organisation loads variants for it alone."""
    if not principal.can(Role.ADMIN):
        raise Forbidden("Loading a reference model needs the admin role.")
    if data.based_on is None and not principal.is_global:
        raise Forbidden(
            "A base model becomes everyone's default: only an admin of the whole service loads "
            "one. Set basedOn to load a variant for your organisation."
        )
    if data.version is not None and data.version != version:
        raise ValidationFailed(
            "The body's version differs from the URL's.",
            errors=[FieldIssue("version", f"Must be {version!r} or omitted.")],
        )
    owners = await visible_owners(session, principal)
    if data.based_on is not None and not await _exists(session, data.based_on, owners):
        raise ValidationFailed(
            "basedOn names a model that does not exist.",
            errors=[FieldIssue("based_on", f"No reference model {data.based_on!r}.")],
        )
    if version in {m.version for m in shipped_models()}:
        raise Conflict(
            f"Reference model {version} ships with the service and is read-only: load your "
            "changes as a new version (set basedOn to make it a variant)."
        )
    model = to_public(data, version=version)
    existing = (
        await session.exec(
            select(ReferenceModel).where(ReferenceModel.version == version).with_for_update()
        )
    ).first()
    if existing is None:
        row = _row(model)
        row.organisation_id = principal.organisation_id
        session.add(row)
        try:
            await session.flush()
        except IntegrityError as exc:
            raise Conflict(f"Reference model {version} was created meanwhile.") from exc
        _audit(session, principal, AuditAction.CREATE, row, {})
        return model, 1, True
    if existing.organisation_id != principal.organisation_id and not principal.is_global:
        # Another organisation's variant, or everyone's model: not this caller's to change.
        if (
            existing.organisation_id is None
            or owners is None
            or (existing.organisation_id not in owners)
        ):
            raise Conflict(f"Reference model {version} exists and is not yours to replace.")
        raise Forbidden(f"Reference model {version} belongs to an organisation above yours.")
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
    existing.document = model.model_dump(mode="json", by_alias=True)
    existing.row_version += 1
    existing.updated_at = utcnow()
    await session.flush()
    _audit(session, principal, AuditAction.UPDATE, existing, before)
    return model, existing.row_version, False


async def _exists(session: AsyncSession, version: str, owners: list[uuid.UUID] | None) -> bool:
    try:
        await get_versioned(session, version, owners=owners)
    except NotFound:
        return False
    return True


def _summary(row: ReferenceModel) -> dict[str, Any]:
    """What the audit trail keeps of a model: not the whole document."""
    return {
        "title": row.title,
        "based_on": row.based_on,
        "organisation_id": row.organisation_id,
        "capabilities": len(row.document.get("capabilities", [])),
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


async def require_capability(session: AsyncSession, *, key: str, area: Area) -> Capability:
    """An asset or activity may only name a capability of the current (default) model, and of
    its own area: 422 otherwise, saying which keys would do."""
    return check_capability(await get(session), key=key, area=area)


def check_capability(model: ReferenceModelPublic, *, key: str, area: Area) -> Capability:
    """The rule of require_capability against a model already read (a bulk import reads it
    once for every row)."""
    capability = next((c for c in model.capabilities if c.key == key), None)
    if capability is None:
        in_area = sorted(c.key for c in model.capabilities if c.area == area)
        raise ValidationFailed(
            f"capabilityKey {key!r} is not in reference model {model.version}.",
            errors=[
                FieldIssue(
                    "capability_key",
                    f"Unknown capability. Keys in area {area.value}: {', '.join(in_area)}.",
                )
            ],
        )
    if capability.area != area:
        raise ValidationFailed(
            f"Capability {key!r} belongs to area {capability.area.value}, not {area.value}.",
            errors=[
                FieldIssue(
                    "capability_key",
                    f"Belongs to area {capability.area.value}; set area to match.",
                )
            ],
        )
    return capability
