"""The reference models of an imported map: those it carries enter through the reference-model
gate (an admin's right, validated, timestamped and audited like a PUT), and every model an
assessment is pinned to must be one the importer may see from where the map is hung."""

import uuid
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.principal import Principal
from app.db import reads_in
from app.errors import Conflict, FieldIssue, ValidationFailed
from app.models import ReferenceModel
from app.reference import gate
from app.reference.service import visible_owners
from app.transfer.map_schemas import MapDocument, MapReferenceModel

Owners = set[uuid.UUID | None]


async def settle(
    session: AsyncSession, *, principal: Principal, document: MapDocument, above: set[uuid.UUID]
) -> int:
    """Load the carried models this instance lacks; reuse the ones it holds with the same
    content. Then check each assessment's model. Returns how many models were loaded.
    ``above``: the organisation the map hangs under and those above it."""
    # Whose variants the map may use: those its assessments could use where it is hung, and
    # that the caller may see (for a scoped caller, its scope and above; it loads its own).
    scoped = await visible_owners(reads_in(session), principal)
    usable: Owners = {None, *(above if scoped is None else above & set(scoped))}
    added = 0
    for index, carried in _bases_first(document.reference_models):
        existing = await session.get(ReferenceModel, carried.version)
        at = ("reference_models", index)
        if existing is None:
            await _load(session, principal, carried, at)
            added += 1
        elif existing.organisation_id not in usable:
            # Versions are one namespace, as for PUT: the name is taken, whose it is is not said.
            raise Conflict(
                f"Reference model {carried.version} exists and is not yours to use.",
                errors=[FieldIssue(at, "A model of this version exists here.")],
            )
        elif existing.document != carried.document:
            raise Conflict(
                f"Reference model {carried.version} exists here with different content.",
                errors=[FieldIssue(at, "Differs from this instance's.")],
            )
    usable.add(principal.organisation_id)  # what it loaded just now is its scope's
    await _check_pinned(session, document, usable)
    return added


def _bases_first(
    models: Sequence[MapReferenceModel],
) -> list[tuple[int, MapReferenceModel]]:
    """A variant after the model it is based on, when the map carries both."""
    pending = list(enumerate(models))
    ordered: list[tuple[int, MapReferenceModel]] = []
    while pending:
        placed = {m.version for _, m in ordered}
        carried = {m.version for _, m in pending}
        ready = [p for p in pending if p[1].based_on not in carried or p[1].based_on in placed]
        ready = ready or pending  # a cycle: the gate refuses what it cannot place
        ordered += ready
        pending = [p for p in pending if p not in ready]
    return ordered


async def _load(
    session: AsyncSession,
    principal: Principal,
    carried: MapReferenceModel,
    at: tuple[str | int, ...],
) -> None:
    """Through the gate, as PUT would: the document is the model (the envelope's title,
    timestamps and row version are the source's bookkeeping, set here by the server)."""
    where = (*at, "document")
    data = gate.validated(carried.document, at=where)
    try:
        await gate.load(
            session, principal=principal, version=carried.version, data=data, create_only=True
        )
    except ValidationFailed as exc:
        exc.errors = [FieldIssue((*where, *issue.field), issue.message) for issue in exc.errors]
        raise


async def _check_pinned(session: AsyncSession, document: MapDocument, usable: Owners) -> None:
    """An assessment may name only a model the caller may see: one it cannot is as unknown
    as one that does not exist (the same 422), and is never pinned."""
    versions = sorted({a.reference_model_version for a in document.assessments})
    rows = (
        await session.exec(
            select(ReferenceModel.version, ReferenceModel.organisation_id).where(
                col(ReferenceModel.version).in_(versions)
            )
        )
    ).all()
    found = {version for version, owner in rows if owner in usable}
    missing = [
        FieldIssue(("assessments", index, "reference_model_version"), "No such model here.")
        for index, a in enumerate(document.assessments)
        if a.reference_model_version not in found
    ]
    if missing:
        raise ValidationFailed("Assessments name reference models this map lacks.", errors=missing)
