"""Organisation use cases. All organisation data access goes through here, so that an access
scope (an ICS and everything below it) can be applied in one place. Services flush; the
request's unit of work commits."""

import uuid
from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import records
from app.audit import service as audit
from app.auth import access, revocations
from app.auth.principal import Principal
from app.db import ReadContext, reads_in
from app.errors import Conflict, FieldIssue, Forbidden, NotFound, ValidationFailed
from app.models import ApiKey, Organisation
from app.organisations import hierarchy, refs
from app.organisations.schemas import (
    OrganisationCreate,
    OrganisationFilters,
    OrganisationPublic,
    OrganisationUpdate,
)
from app.pagination import PageParams, keyset
from app.records import ExpectedVersion
from app.vocabulary import AuditAction, ResourceType, Role

ORGANISATION = ResourceType.ORGANISATION
# The parent a body names: the same words whether the code is unknown or out of scope.
PARENT = refs.Named("parent_id", "parent_ods_code", "The parent organisation does not exist.")


async def get(
    reads: ReadContext, organisation_id: uuid.UUID, *, principal: Principal
) -> OrganisationPublic:
    """What GET shows: one query and no ORM object, through the one access check."""
    row = await access.organisation(reads, principal, organisation_id)
    return OrganisationPublic.model_validate(dict(row))


async def list_page(
    session: AsyncSession,
    *,
    principal: Principal,
    page: PageParams,
    filters: OrganisationFilters,
) -> Sequence[Organisation]:
    parent_id, organisation_type = filters.parent_id, filters.organisation_type
    ods_code, q = filters.ods_code, filters.q
    statement = select(Organisation)
    in_scope = access.visible(principal, Organisation.id)
    if in_scope is not None:
        statement = statement.where(in_scope)
    if parent_id is not None:
        statement = statement.where(Organisation.parent_id == parent_id)
    if organisation_type is not None:
        statement = statement.where(Organisation.organisation_type == organisation_type.value)
    if ods_code is not None:
        statement = statement.where(Organisation.ods_code == ods_code.strip().upper())
    if q is not None:
        # Case-insensitive "contains" on both backends; LIKE wildcards in q are matched literally.
        escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(func.lower(Organisation.name).like(f"%{escaped}%", escape="\\"))
    statement = keyset(
        statement, created_at=col(Organisation.created_at), row_id=col(Organisation.id), params=page
    )
    return (await session.exec(statement)).all()


async def create(
    session: AsyncSession, *, principal: Principal, data: OrganisationCreate, is_demo: bool = False
) -> Organisation:
    """``is_demo`` is for the demo loader only: no caller of the API marks its own data as
    demo data (which would take it out of real benchmarks, or put it in the demo's)."""
    access.require_role(principal, Role.EDITOR)
    if data.benchmark_opt_out:
        _may_opt_out(principal)
    parent_id = await refs.resolve(
        session, principal, PARENT, organisation_id=data.parent_id, ods_code=data.parent_ods_code
    )
    if parent_id is None:
        if not principal.is_global:
            raise Forbidden(
                "Your credential is scoped to one organisation: new organisations go inside "
                "it (give parentId or parentOdsCode)."
            )
    else:
        await _parent(session, principal, parent_id)
    await _ods_code_free(session, data.ods_code)
    organisation = Organisation(
        **data.model_dump(exclude={"parent_id", "parent_ods_code"}),
        parent_id=parent_id,
        is_demo=is_demo,
    )
    session.add(organisation)
    await session.flush()
    audit.row_change(
        session,
        principal,
        AuditAction.CREATE,
        ORGANISATION,
        organisation,
        {},
        organisation.model_dump(),
    )
    return organisation


async def update(
    session: AsyncSession,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    data: OrganisationUpdate,
    expected: ExpectedVersion,
) -> Organisation:
    organisation = await _for_write(session, principal, organisation_id, expected)
    before = organisation.model_dump()
    updates = data.model_dump(exclude_unset=True)
    if updates.get("benchmark_opt_out", organisation.benchmark_opt_out) != (
        organisation.benchmark_opt_out
    ):
        _may_opt_out(principal)
    if "parent_ods_code" in updates:
        if "parent_id" in updates and updates["parent_id"] is None:
            raise refs.disagree(PARENT)  # detach, and attach below the code: which?
        updates["parent_id"] = await refs.resolve(
            session,
            principal,
            PARENT,
            organisation_id=updates.get("parent_id"),
            ods_code=updates.pop("parent_ods_code"),
        )
    if updates.get("ods_code") not in (None, organisation.ods_code):
        await _ods_code_free(session, updates["ods_code"])
    if "ods_code" in updates and organisation.ods_code not in (None, updates["ods_code"]):
        # Tokens naming the old code must stop acting for this organisation on every instance.
        revocations.ods_code_after_commit(session, organisation.ods_code.upper())
    if "parent_id" in updates and updates["parent_id"] != organisation.parent_id:
        _may_move(principal, organisation)
        await _move(session, principal, organisation, updates["parent_id"])
    if records.apply(organisation, updates):
        audit.row_change(
            session,
            principal,
            AuditAction.UPDATE,
            ORGANISATION,
            organisation,
            before,
            organisation.model_dump(),
        )
    await session.flush()
    return organisation


async def _for_write(
    session: AsyncSession,
    principal: Principal,
    organisation_id: uuid.UUID,
    expected: ExpectedVersion,
) -> Organisation:
    organisation = await records.get_or_404(session, Organisation, organisation_id, for_update=True)
    await access.within(
        reads_in(session),
        principal,
        organisation_id,
        need=Role.EDITOR,
        missing=access.no_such_organisation(organisation_id),
    )
    expected.check(current=organisation.version, what=f"Organisation {organisation_id}")
    return organisation


def _may_opt_out(principal: Principal) -> None:
    """Whether an organisation is counted in others' benchmarks is its admins' decision."""
    access.require_role(principal, Role.ADMIN)


def _may_move(principal: Principal, organisation: Organisation) -> None:
    """Moving (or deleting) an organisation changes its parent's members: the caller needs
    rights over the old parent too, which a credential scoped to this very organisation lacks."""
    if principal.organisation_id == organisation.id:
        raise Forbidden(
            "Your credential is scoped to this organisation: moving or deleting it needs "
            "rights over its parent."
        )


async def _move(
    session: AsyncSession,
    principal: Principal,
    organisation: Organisation,
    new_parent: uuid.UUID | None,
) -> None:
    """Refuse a move that would make a cycle, or strand links to records above (an activity's
    assets, a plan item's assets and activities).
    Detaching (no new parent) is a move too: links to the old ancestors' assets would strand."""
    await hierarchy.lock_tree(session)
    new_ancestors: list[uuid.UUID] = []
    if new_parent is None and not principal.is_global:
        raise Forbidden("Only a credential for the whole service makes a top-level organisation.")
    if new_parent is not None:
        await _parent(session, principal, new_parent)
        new_ancestors = await hierarchy.ancestor_ids(
            reads_in(session), new_parent, include_self=True
        )
    if organisation.id in new_ancestors:
        raise Conflict(
            f"Organisation {new_parent} is {organisation.name!r} itself or one of its "
            "members: a parent cannot also be a member, so this would make a cycle."
        )
    stranded = await hierarchy.links_outside(session, organisation.id, allowed_above=new_ancestors)
    if stranded:
        raise Conflict(
            f"{stranded} link{'' if stranded == 1 else 's'} from activities or plan items "
            f"to assets or activities of organisations above {organisation.name!r} that would "
            "no longer be above it; unlink them first."
        )


async def delete(
    session: AsyncSession,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    expected: ExpectedVersion,
) -> None:
    organisation = await _for_write(session, principal, organisation_id, expected)
    _may_move(principal, organisation)
    members = await session.exec(
        select(func.count()).where(Organisation.parent_id == organisation_id)
    )
    count = members.one()
    if count:
        raise Conflict(
            f"Organisation {organisation_id} still has {count} member(s); "
            "move or delete them first."
        )
    # Assets, activities, tags and links go with it through ON DELETE CASCADE, in this
    # transaction; the records among them are put on record as deleted first.
    await audit.organisation_deleted(session, principal, organisation, organisation.model_dump())
    # Its API keys go with it too: every instance must stop trusting its copy of them at once,
    # as for a revocation, and stop resolving its ODS code.
    prefixes = await session.exec(
        select(ApiKey.prefix).where(ApiKey.organisation_id == organisation.id)
    )
    for prefix in prefixes.all():
        revocations.after_commit(session, prefix)
    if organisation.ods_code is not None:
        revocations.ods_code_after_commit(session, organisation.ods_code.upper())
    await session.delete(organisation)
    await session.flush()


async def members(
    session: AsyncSession,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    all_levels: bool,
    page: PageParams,
) -> Sequence[Organisation]:
    await access.organisation(reads_in(session), principal, organisation_id)
    if all_levels:
        tree = hierarchy.descendants(organisation_id)
        statement = select(Organisation).where(
            col(Organisation.id).in_(select(tree.c.id).where(tree.c.id != organisation_id))
        )
    else:
        statement = select(Organisation).where(Organisation.parent_id == organisation_id)
    statement = keyset(
        statement, created_at=col(Organisation.created_at), row_id=col(Organisation.id), params=page
    )
    return (await session.exec(statement)).all()


async def _ods_code_free(session: AsyncSession, ods_code: str | None) -> None:
    if ods_code is None:
        return
    taken = await session.exec(select(Organisation.id).where(Organisation.ods_code == ods_code))
    if taken.first() is not None:
        raise Conflict(
            f"ODS code {ods_code} is already used by another organisation.",
            errors=[FieldIssue("ods_code", "Already in use.")],
        )


async def _parent(session: AsyncSession, principal: Principal, parent_id: uuid.UUID) -> None:
    """The parent a body names: one the caller can see (the same 422 otherwise)."""
    try:
        await access.organisation(reads_in(session), principal, parent_id, need=Role.EDITOR)
    except NotFound:
        raise ValidationFailed(
            "The parent organisation does not exist.",
            errors=[FieldIssue("parent_id", f"No organisation {parent_id}.")],
        ) from None
