"""The words of access control, spelt once: tables, contracts and checks use these enums."""

from enum import StrEnum


class Role(StrEnum):
    """What a credential may do, weakest first: each role may do all the weaker ones may."""

    READER = "reader"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]


_ROLE_RANK = {role: rank for rank, role in enumerate(Role)}


class PrincipalKind(StrEnum):
    API_KEY = "api_key"
    TOKEN = "token"  # noqa: S105 - a kind of caller, not a secret: a bearer JWT from a configured issuer
    OPERATOR = "operator"  # the command line, run by whoever runs the service
    LINK = "link"  # a browser following a signed, read-only link


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"  # data read out in bulk: a file, a CSV or the whole map


class ResourceType(StrEnum):
    """The singular resource names the audit trail is filtered by, in snake_case like every
    other enumerated value of the contract."""

    ORGANISATION = "organisation"
    ASSET = "asset"
    ACTIVITY = "activity"
    ASSESSMENT = "assessment"
    API_KEY = "api_key"
    REFERENCE_MODEL = "reference_model"
    REPORT_LINK = "report_link"  # a signed link handed to a browser
    # What only an export names (a CSV of assets or activities is audited as asset/activity).
    GAP_ANALYSIS = "gap_analysis"
    REPORT = "report"
    MAP = "map"

    @classmethod
    def _missing_(cls, value: object) -> "ResourceType | None":
        # The kebab-case spellings of contract 0.x ("api-key"), still read on input until the
        # next major version (CHANGELOG.md); never written or listed in the document.
        if isinstance(value, str) and "-" in value and value.islower():
            return cls.__members__.get(value.replace("-", "_").upper())
        return None
