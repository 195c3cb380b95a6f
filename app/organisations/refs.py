"""An organisation a body names: by id (``parentId``) or by ODS code (``parentOdsCode``), the
two fields side by side, never a code inside an id field. The code is resolved here, at the edge
of the write, and the service goes on with the id as if the caller had sent it.

A code the caller cannot see is answered exactly as a code nobody has: the same 422 with the
same words, naming the code the caller sent, never the id it stands for. Codes are stored upper
case and the schemas fold what they read (``OdsCode``), so a code matches in any case."""

import uuid
from dataclasses import dataclass

from pydantic.alias_generators import to_camel
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth import access
from app.auth.principal import Principal
from app.errors import FieldIssue, ValidationFailed
from app.models import Organisation


@dataclass(frozen=True)
class Named:
    """The pair of fields of one body that name one organisation, in Python terms."""

    id_field: str  # "parent_id"
    code_field: str  # "parent_ods_code"
    missing: str  # the problem's detail when the organisation is not there for the caller


def not_there(named: Named, code: str) -> ValidationFailed:
    return ValidationFailed(
        named.missing,
        errors=[FieldIssue(named.code_field, f"No organisation has the ODS code {code}.")],
    )


def disagree(named: Named) -> ValidationFailed:
    id_name, code_name = to_camel(named.id_field), to_camel(named.code_field)
    message = f"{id_name} and {code_name} name different organisations: give one of them."
    return ValidationFailed(
        f"{id_name} and {code_name} name different organisations.",
        errors=[FieldIssue(named.id_field, message), FieldIssue(named.code_field, message)],
    )


async def resolve(
    session: AsyncSession,
    principal: Principal,
    named: Named,
    *,
    organisation_id: uuid.UUID | None,
    ods_code: str | None,
) -> uuid.UUID | None:
    """The id the body names, or None when it names none. With a code: the organisation that
    has it, when the caller may see it (422 otherwise, as for an unknown code); with both, they
    must agree. An id alone is returned as given: the service checks it as it always has."""
    if ods_code is None:
        return organisation_id
    # One query, within the caller's scope: a code elsewhere is not looked at, so neither the
    # answer nor the work done tells it from a code nobody has.
    statement = select(Organisation.id).where(Organisation.ods_code == ods_code)
    in_scope = access.visible(principal, Organisation.id)
    if in_scope is not None:
        statement = statement.where(in_scope)
    found = (await session.exec(statement)).first()
    if found is None:
        raise not_there(named, ods_code)
    if organisation_id is not None and organisation_id != found:
        raise disagree(named)
    return found
