"""How a route asks for a caller: ``PrincipalDep``, or ``Depends(require(Role.EDITOR))``."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from app.auth.middleware import AUTH_ERROR, PRINCIPAL
from app.auth.principal import Principal
from app.errors import AppError, Forbidden, Unauthenticated
from app.vocabulary import Role


async def current_principal(request: Request) -> Principal:
    """The verified caller; 401 when there is none or the credential was refused.

    A key is noted as used here, where a route acts for its caller, not when the middleware
    verifies it: a probe or a public page sent a key writes nothing (app.auth.usage)."""
    state = request.scope.get("state", {})
    principal = state.get(PRINCIPAL)
    if isinstance(principal, Principal):
        authenticator = getattr(request.app.state, "authenticator", None)
        if principal.key_id is not None and authenticator is not None:
            authenticator.usage.used(request.app.state.sessions, principal.key_id)
        return principal
    error = state.get(AUTH_ERROR)
    if isinstance(error, AppError):
        raise error
    raise Unauthenticated("This request needs credentials: 'Authorization: Bearer <key>'.")


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the caller, if its role is at least ``role``; 403 otherwise."""

    async def check(principal: PrincipalDep) -> Principal:
        if not principal.can(role):
            raise Forbidden(f"This needs the {role} role; the credential has {principal.role}.")
        return principal

    return check
