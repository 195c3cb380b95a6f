"""Who is calling: the one identity every check and every audit event is made from."""

import uuid
from dataclasses import dataclass

from app.vocabulary import PrincipalKind, Role


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified caller.

    ``organisation_id`` is the scope: that organisation and everything below it, or the whole
    service when None. ``subject`` names the caller in audit events and rate limits: the key's
    prefix, the token's ``sub``, or ``operator``.
    """

    subject: str
    kind: PrincipalKind
    role: Role
    organisation_id: uuid.UUID | None = None
    key_id: uuid.UUID | None = None
    issuer: str | None = None  # tokens only: the same sub from two issuers is two callers

    @property
    def is_global(self) -> bool:
        return self.organisation_id is None

    def can(self, role: Role) -> bool:
        """At least as strong as ``role``."""
        return self.role.rank >= role.rank

    @property
    def rate_key(self) -> str:
        """What a rate limit counts against: the credential, never a shared name."""
        return ":".join(part for part in (self.kind.value, self.issuer, self.subject) if part)


OPERATOR = Principal(subject="operator", kind=PrincipalKind.OPERATOR, role=Role.ADMIN)


def may_grant_role(principal: Principal, role: Role) -> bool:
    """Only admins mint keys, and never one stronger than themselves."""
    return principal.can(Role.ADMIN) and role.rank <= principal.role.rank
