"""Reading reference models: the shipped versions, the default, a named version (parsed once
per process), the list, and the check that an asset's or activity's capabilityKey exists in
the default model. Models enter the service only through app.reference.gate."""

import logging
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy import or_
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.principal import Principal
from app.db import ReadContext, fetch, reads_in
from app.errors import FieldIssue, ModelRetired, NotFound, ServiceUnavailable, ValidationFailed
from app.models import Assessment, ReferenceModel
from app.organisations import hierarchy
from app.reference import queries, stored
from app.reference.schemas import (
    RETIRED,
    Capability,
    ReferenceModelInput,
    ReferenceModelPublic,
    ReferenceModelSummary,
    status_of,
    to_public,
)
from app.vocabulary import Area, ModelStatus

logger = logging.getLogger(__name__)
DATA_DIR = Path(__file__).parent / "data"


@lru_cache
def shipped_inputs() -> tuple[ReferenceModelInput, ...]:
    """The versions in the package's data files, validated like any PUT."""
    models = []
    for path in sorted(DATA_DIR.glob("*.yaml")):
        # The file is YAML, not JSON: let strings name enum members, as JSON would.
        data = ReferenceModelInput.model_validate(
            yaml.safe_load(path.read_text("utf-8")), strict=False
        )
        assert data.version is not None, f"{path.name} must name its version"
        models.append(data)
    return tuple(models)


@lru_cache
def shipped_models() -> tuple[ReferenceModelPublic, ...]:
    return tuple(to_public(data, version=str(data.version)) for data in shipped_inputs())


def _version_order(version: str) -> tuple[tuple[int, int | str], ...]:
    """2026.1 above 2024.10 above 2024.9: numeric parts compare as numbers."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[._-]", version))


@lru_cache
def highest_shipped() -> str:
    return max((m.version for m in shipped_models()), key=_version_order)


def default_name(reads: ReadContext) -> str:
    """The default model's version: the operator's setting (LHS_DEFAULT_REFERENCE_MODEL), else
    the highest shipped version. Never anything a caller sends or stores."""
    return reads.default_reference_model or highest_shipped()


async def visible_owners(reads: ReadContext, principal: Principal) -> list[uuid.UUID] | None:
    """Whose variants the caller may see: those of its scope and of organisations above it
    (a variant is visible inside its organisation's subtree); None for a global caller."""
    if principal.organisation_id is None:
        return None
    return await hierarchy.ancestor_ids(reads, principal.organisation_id, include_self=True)


async def get(session: AsyncSession, version: str | None = None) -> ReferenceModelPublic:
    """A version, or the default (variants are chosen by name)."""
    return (await get_versioned(reads_in(session), version))[0]


async def get_versioned(
    reads: ReadContext, version: str | None = None, *, owners: list[uuid.UUID] | None = None
) -> tuple[ReferenceModelPublic, int]:
    """A model with its row version, so a writer can check later that it did not change.
    ``owners``: whose variants may be returned (None: anyone's); others do not exist.
    A row that cannot be read is stored.UnreadableModel (503), never a crash."""
    name = default_name(reads) if version is None else version
    rows = await fetch(reads, queries.BY_VERSION, {"version": name})
    found = next(iter(rows), None)
    if found is not None and version is None and found["organisation_id"] is not None:
        found = None  # a variant is never everyone's default (start-up refuses the setting)
    if found is not None and owners is not None and found["organisation_id"] is not None:
        found = found if found["organisation_id"] in owners else None
    if found is None:
        if version is None:
            raise ServiceUnavailable(
                f"The default reference model {name} is not installed: run 'alembic upgrade "
                "head' (it installs the shipped models), or set LHS_DEFAULT_REFERENCE_MODEL to "
                "an installed base model."
            )
        raise NotFound(f"Reference model {version} does not exist.")
    key = stored.key_of(found)
    return await stored.parsed_from(reads, key), key[1]


async def chosen(
    reads: ReadContext, version: str | None, *, owners: list[uuid.UUID]
) -> tuple[ReferenceModelPublic, int]:
    """The model a request names for an organisation (a bad name is the request's fault: 422),
    or the default, with its row version. A variant is usable only inside its organisation's
    subtree: ``owners`` are the organisation and those above it. A retired model, or a variant
    of one, is refused (409): new work uses current models only."""
    try:
        found = await get_versioned(reads, version, owners=owners)
    except NotFound as exc:
        raise ValidationFailed(
            f"Reference model {version} does not exist.",
            errors=[
                FieldIssue(
                    "reference_model", "Unknown reference model version; see /v1/reference-models."
                )
            ],
        ) from exc
    await refuse_retired(reads, found[0])
    return found


async def retired_base(reads: ReadContext, model: ReferenceModelPublic) -> str | None:
    """The retired version a model is, or is based on through any chain of variants; None
    when it is current. Reads a row per variant in the chain, none for a base model."""
    version, based_on, seen = model.version, model.based_on, {model.version}
    while version not in RETIRED:
        if based_on is None or based_on in seen:
            return None
        seen.add(based_on)
        row = next(iter(await fetch(reads, queries.BY_VERSION, {"version": based_on})), None)
        if row is None:
            return None
        version, based_on = row["version"], row["based_on"]
    return version


async def with_status(reads: ReadContext, model: ReferenceModelPublic) -> ReferenceModelPublic:
    """The model as a reader sees it: a variant of a retired model shows retired too."""
    if model.based_on is None or await retired_base(reads, model) is None:
        return model
    return model.model_copy(update={"status": ModelStatus.RETIRED})


async def refuse_retired(reads: ReadContext, model: ReferenceModelPublic) -> None:
    """ModelRetired (409) when new work would use a retired model, naming it, why it was
    retired, and the current default."""
    retired = await retired_base(reads, model)
    if retired is None:
        return
    through = "" if retired == model.version else f", the model {model.version} is based on,"
    raise ModelRetired(
        f"Reference model {retired}{through} is retired ({RETIRED[retired]}): new analyses, "
        f"assessments, reports and variants cannot use it. Use the current default, "
        f"{default_name(reads)}, or another current version; assessments stored with "
        f"{retired} still read as they were made."
    )


@dataclass(frozen=True)
class Health:
    """What the readiness probe reports: the default and, when it is not installed or not
    readable, why; the models everyone may use that cannot be read (by version) and how many
    organisations' variants cannot (not named: the probe is public, a variant is private)."""

    default: str
    default_problem: str | None
    unreadable: list[str]
    unreadable_variants: int


async def health(reads: ReadContext) -> Health:
    """Read every model's key, and each document not yet parsed in this process. Only reads."""
    default = default_name(reads)
    rows = await fetch(reads, queries.ALL, {})
    unreadable: list[str] = []
    variants = 0
    problem: str | None = "not installed"
    for row in rows:
        readable = True
        key = stored.key_of(row)
        try:
            if not stored.known_readable(key):
                await stored.parsed_from(reads, key)
        except stored.UnreadableModel:
            readable = False
            if row["organisation_id"] is None:
                unreadable.append(row["version"])
            else:
                variants += 1
        if row["version"] == default:
            if not readable:
                problem = "cannot be read (its stored document is not a valid model)"
            elif row["organisation_id"] is not None or row["based_on"] is not None:
                problem = "is a variant, not a base model"
            else:
                problem = None
    return Health(default, problem, unreadable, variants)


class DefaultModelMissing(RuntimeError):
    """The operator's LHS_DEFAULT_REFERENCE_MODEL names no installed base model."""


async def check_default(session: AsyncSession) -> None:
    """At start-up, after the shipped models are installed: the default must be an installed
    base model, or the instance refuses to start (a typo in the setting is found at once, not
    by the first analysis). A database not migrated yet is left to the readiness probe."""
    name = default_name(reads_in(session))
    try:
        row = await session.get(ReferenceModel, name)
    except SQLAlchemyError as exc:
        await session.rollback()
        logger.warning("default reference model not checked: %s", getattr(exc, "orig", exc))
        return
    if row is None:
        raise DefaultModelMissing(
            f"LHS_DEFAULT_REFERENCE_MODEL: reference model {name} is not installed (shipped: "
            f"{', '.join(m.version for m in shipped_models())}). Load it with 'lhs-map "
            "load-reference-model' or name an installed base model."
        )
    if row.based_on is not None or row.organisation_id is not None:
        raise DefaultModelMissing(
            f"LHS_DEFAULT_REFERENCE_MODEL: reference model {name} is a variant; the default "
            "must be a base model (basedOn null) that belongs to no organisation."
        )
    if status_of(name) == ModelStatus.RETIRED:
        raise DefaultModelMissing(
            f"LHS_DEFAULT_REFERENCE_MODEL: reference model {name} is retired ({RETIRED[name]}); "
            f"name a current one (the highest shipped is {highest_shipped()})."
        )


async def list_summaries(
    session: AsyncSession, *, principal: Principal
) -> list[ReferenceModelSummary]:
    """Oldest first. A model that cannot be read is left out (and logged): one damaged row
    must not take the list away from everyone."""
    statement = select(ReferenceModel).order_by(
        col(ReferenceModel.created_at), col(ReferenceModel.version)
    )
    owners = await visible_owners(reads_in(session), principal)
    if owners is not None:
        statement = statement.where(
            or_(
                col(ReferenceModel.organisation_id).is_(None),
                col(ReferenceModel.organisation_id).in_(owners),
            )
        )
    rows = (await session.exec(statement)).all()
    used = set((await session.exec(select(Assessment.reference_model_version).distinct())).all())
    default = default_name(reads_in(session))
    based_on = {row.version: row.based_on for row in rows}
    summaries = []
    for row in rows:
        try:
            model = stored.parsed((row.version, row.row_version, row.updated_at), row.document)
        except stored.UnreadableModel:
            continue
        summaries.append(
            ReferenceModelSummary(
                version=row.version,
                title=row.title,
                based_on=row.based_on,
                organisation_id=row.organisation_id,
                published_on=model.published_on,
                capability_count=len(model.capabilities),
                status=_status_in(row.version, based_on),
                is_default=row.version == default,
                in_use=row.version in used,
            )
        )
    return summaries


def _status_in(version: str, based_on: dict[str, str | None]) -> ModelStatus:
    """A listed model's status: retired when it, or a model it is based on, is retired."""
    seen: set[str] = set()
    current: str | None = version
    while current is not None and current not in seen:
        if status_of(current) == ModelStatus.RETIRED:
            return ModelStatus.RETIRED
        seen.add(current)
        current = based_on.get(current)
    return ModelStatus.CURRENT


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
