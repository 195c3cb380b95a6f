"""Organisation use cases. All organisation data access goes through here, so that the access
scope of a later issue (an ICS and everything below it) can be applied in one place."""

import uuid
from collections.abc import Sequence

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import crud
from app.concurrency import Expected
from app.errors import Conflict, FieldIssue, ValidationFailed
from app.models import Organisation
from app.organisations import hierarchy
from app.organisations.schemas import OrganisationCreate, OrganisationUpdate
from app.pagination import PageParams, keyset
from app.vocabulary import OrganisationType


async def get(session: AsyncSession, organisation_id: uuid.UUID) -> Organisation:
    return await crud.get_or_404(session, Organisation, organisation_id)


async def list_page(
    session: AsyncSession,
    *,
    page: PageParams,
    parent_id: uuid.UUID | None = None,
    organisation_type: OrganisationType | None = None,
    ods_code: str | None = None,
    q: str | None = None,
) -> Sequence[Organisation]:
    statement = select(Organisation)
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


async def create(session: AsyncSession, *, data: OrganisationCreate) -> Organisation:
    if data.parent_id is not None:
        await _parent(session, data.parent_id)
    organisation = Organisation(
        name=data.name,
        ods_code=data.ods_code,
        organisation_type=data.organisation_type.value,
        parent_id=data.parent_id,
        region=data.region,
    )
    session.add(organisation)
    await _commit(session, organisation)
    return organisation


async def update(
    session: AsyncSession,
    *,
    organisation_id: uuid.UUID,
    data: OrganisationUpdate,
    expected: Expected,
) -> Organisation:
    organisation = await crud.get_or_404(session, Organisation, organisation_id, for_update=True)
    updates = crud.changes(data, required={"name", "organisation_type"})
    new_parent = updates.get("parent_id")
    if new_parent is not None and new_parent != organisation.parent_id:
        await _parent(session, new_parent)
        if organisation_id in await hierarchy.ancestor_ids(session, new_parent, include_self=True):
            raise Conflict(
                f"Organisation {new_parent} is {organisation.name!r} itself or one of its "
                "members: a parent cannot also be a member, so this would make a cycle."
            )
    if isinstance(updates.get("organisation_type"), OrganisationType):
        updates["organisation_type"] = updates["organisation_type"].value
    crud.apply(organisation, updates, expected=expected)
    await _commit(session, organisation)
    return organisation


async def delete(session: AsyncSession, *, organisation_id: uuid.UUID, expected: Expected) -> None:
    organisation = await crud.get_or_404(session, Organisation, organisation_id, for_update=True)
    expected.check(current=organisation.version, what=f"Organisation {organisation_id}")
    members = await session.exec(
        select(func.count()).where(Organisation.parent_id == organisation_id)
    )
    count = members.one()
    if count:
        raise Conflict(
            f"Organisation {organisation_id} still has {count} member(s); "
            "move or delete them first."
        )
    # Assets, activities, tags and links go with it through ON DELETE CASCADE, in this transaction.
    await session.delete(organisation)
    await session.commit()


async def members(
    session: AsyncSession, *, organisation_id: uuid.UUID, all_levels: bool, page: PageParams
) -> Sequence[Organisation]:
    await get(session, organisation_id)
    if all_levels:
        tree = hierarchy.descendants(organisation_id)
        statement = select(Organisation).where(
            col(Organisation.id).in_(select(tree.c.id).where(tree.c.depth > 0))
        )
    else:
        statement = select(Organisation).where(Organisation.parent_id == organisation_id)
    statement = keyset(
        statement, created_at=col(Organisation.created_at), row_id=col(Organisation.id), params=page
    )
    return (await session.exec(statement)).all()


async def _parent(session: AsyncSession, parent_id: uuid.UUID) -> Organisation:
    parent = await session.get(Organisation, parent_id)
    if parent is None:
        raise ValidationFailed(
            "The parent organisation does not exist.",
            errors=[FieldIssue("#/parentId", f"No organisation {parent_id}.")],
        )
    return parent


async def _commit(session: AsyncSession, organisation: Organisation) -> None:
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(
            f"ODS code {organisation.ods_code} is already used by another organisation.",
            errors=[FieldIssue("#/odsCode", "Already in use.")],
        ) from exc
