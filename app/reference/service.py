"""Reference model use cases: install the shipped versions, read, load new ones, and check
that an asset's or activity's capabilityKey exists in the current model."""

import logging
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from sqlalchemy import Select, func
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import utcnow
from app.errors import (
    Conflict,
    FieldIssue,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
    VersionRequired,
)
from app.models import Assessment, ReferenceModel
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


async def get_versioned(
    session: AsyncSession, version: str | None = None
) -> tuple[ReferenceModelPublic, int]:
    """A model with its row version, so a writer can check later that it did not change."""
    statement = select(
        ReferenceModel.version, ReferenceModel.row_version, ReferenceModel.updated_at
    )
    if version is None:
        statement = _latest_base(statement)
    else:
        statement = statement.where(ReferenceModel.version == version)
    found = (await session.exec(statement.limit(1))).first()
    if found is None:
        if version is None:
            raise ServiceUnavailable(
                "No reference model is installed: the service started before the database was "
                "migrated. Restart it after 'alembic upgrade head'."
            )
        raise NotFound(f"Reference model {version} does not exist.")
    key = (found[0], found[1], found[2])
    model = _parsed.get(key)
    if model is None:
        document = (
            await session.exec(
                select(ReferenceModel.document).where(ReferenceModel.version == key[0])
            )
        ).one()
        model = ReferenceModelPublic.model_validate(document)
        if len(_parsed) >= _PARSED_MAX:
            _parsed.clear()
        _parsed[key] = model
    return model, key[1]


async def chosen(session: AsyncSession, version: str | None) -> tuple[ReferenceModelPublic, int]:
    """The model a request names (a bad name is the request's fault: 422), or the default,
    with its row version."""
    try:
        return await get_versioned(session, version)
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


S = TypeVar("S", bound=Select[*tuple[Any, ...]])


def _latest_base(statement: S) -> S:
    """The default model: the most recently loaded base model (variants only when named)."""
    return statement.where(col(ReferenceModel.based_on).is_(None)).order_by(
        col(ReferenceModel.created_at).desc(), col(ReferenceModel.version).desc()
    )


async def list_summaries(session: AsyncSession) -> list[ReferenceModelSummary]:
    rows = (
        await session.exec(select(ReferenceModel).order_by(col(ReferenceModel.created_at)))
    ).all()
    used = set((await session.exec(select(Assessment.reference_model_version).distinct())).all())
    default = await default_version(session)
    return [
        ReferenceModelSummary(
            version=row.version,
            title=row.title,
            based_on=row.based_on,
            published_on=row.document["publishedOn"],
            capability_count=len(row.document["capabilities"]),
            is_default=row.version == default,
            in_use=row.version in used,
        )
        for row in rows
    ]


async def row_version(session: AsyncSession, version: str) -> int:
    row = await session.get(ReferenceModel, version)
    if row is None:
        raise NotFound(f"Reference model {version} does not exist.")
    return row.row_version


async def put(
    session: AsyncSession,
    *,
    version: str,
    data: ReferenceModelInput,
    expected: ExpectedVersion | None,
) -> tuple[ReferenceModelPublic, int, bool]:
    """Create a version, or replace one that no assessment uses yet. Returns (model, rowVersion,
    created)."""
    if data.version is not None and data.version != version:
        raise ValidationFailed(
            "The body's version differs from the URL's.",
            errors=[FieldIssue("version", f"Must be {version!r} or omitted.")],
        )
    if data.based_on is not None and await session.get(ReferenceModel, data.based_on) is None:
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
        session.add(_row(model))
        try:
            await session.flush()
        except IntegrityError as exc:
            raise Conflict(f"Reference model {version} was created meanwhile.") from exc
        return model, 1, True
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
    existing.title = model.title
    existing.based_on = model.based_on
    existing.document = model.model_dump(mode="json", by_alias=True)
    existing.row_version += 1
    existing.updated_at = utcnow()
    await session.flush()
    return model, existing.row_version, False


async def require_capability(session: AsyncSession, *, key: str, area: Area) -> Capability:
    """An asset or activity may only name a capability of the current (default) model, and of
    its own area: 422 otherwise, saying which keys would do."""
    model = await get(session)
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
