"""The domain's words, spelt once: every table, schema and the analysis engine use these enums."""

from datetime import date
from enum import IntEnum, StrEnum


class Area(StrEnum):
    """The four areas of a learning health system, as the source report names them."""

    DATA = "data"
    TECHNOLOGY = "technology"
    LEARNING_COMMUNITIES = "learning_communities"
    IMPROVEMENT = "improvement"


class OrganisationType(StrEnum):
    """Kinds of organisation, refined where the advice differs (as the NHS digital maturity
    assessment separates acute, mental health, community and ambulance trusts).

    ``trust`` is kept for records and callers that do not say which kind of trust: the model
    treats it as a trust of any kind (docs/decisions.md).
    """

    TRUST = "trust"
    ACUTE_TRUST = "acute_trust"
    MENTAL_HEALTH_TRUST = "mental_health_trust"
    COMMUNITY_TRUST = "community_trust"
    AMBULANCE_TRUST = "ambulance_trust"
    ICB = "icb"
    ICS = "ics"
    PRIMARY_CARE_NETWORK = "primary_care_network"
    GP_FEDERATION = "gp_federation"
    GP_PRACTICE = "gp_practice"
    LOCAL_AUTHORITY = "local_authority"
    NETWORK = "network"
    VOLUNTARY_SECTOR = "voluntary_sector"
    OTHER = "other"


# Each organisation type as a sentence names it (lower case, as in running text).
ORGANISATION_TYPE_NAMES: dict[OrganisationType, str] = {
    OrganisationType.TRUST: "NHS trust",
    OrganisationType.ACUTE_TRUST: "acute trust",
    OrganisationType.MENTAL_HEALTH_TRUST: "mental health trust",
    OrganisationType.COMMUNITY_TRUST: "community trust",
    OrganisationType.AMBULANCE_TRUST: "ambulance trust",
    OrganisationType.ICB: "integrated care board",
    OrganisationType.ICS: "integrated care system",
    OrganisationType.PRIMARY_CARE_NETWORK: "primary care network",
    OrganisationType.GP_FEDERATION: "GP federation",
    OrganisationType.GP_PRACTICE: "GP practice",
    OrganisationType.LOCAL_AUTHORITY: "local authority",
    OrganisationType.NETWORK: "network",
    OrganisationType.VOLUNTARY_SECTOR: "voluntary sector organisation",
    OrganisationType.OTHER: "organisation of another kind",
}


class ModelStatus(StrEnum):
    """Whether a reference model version may be used for new work. A retired one still reads,
    and the assessments pinned to it keep their meaning; nothing new is computed with it."""

    CURRENT = "current"
    RETIRED = "retired"


class Maturity(IntEnum):
    ABSENT = 0
    PLANNED = 1
    DEVELOPING = 2
    ESTABLISHED = 3
    EMBEDDED = 4


class Confidence(StrEnum):
    """How far a maturity claim has been checked, weakest first."""

    SELF_ASSESSED = "self_assessed"
    PEER_REVIEWED = "peer_reviewed"
    EVIDENCED = "evidenced"

    @property
    def rank(self) -> int:
        return _CONFIDENCE_RANK[self]


_CONFIDENCE_RANK = {confidence: rank for rank, confidence in enumerate(Confidence)}


class ActivityType(StrEnum):
    IMPROVEMENT_PROJECT = "improvement_project"
    EVALUATION = "evaluation"
    TRAINING = "training"
    LEARNING_COMMUNITY = "learning_community"
    DATA_COLLECTION = "data_collection"
    RESEARCH = "research"
    OTHER = "other"


class ActivityStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    COMPLETED = "completed"
    STOPPED = "stopped"


# Still to be done: an activity or plan item in one of these can be late; completed or stopped
# work is never overdue, whatever its date.
OPEN_STATUSES = (ActivityStatus.PLANNED, ActivityStatus.ACTIVE)


def is_overdue(due_date: date | None, status: str, today: date) -> bool:
    """The one rule of "overdue", for the plan items' answers and the analysis alike (the list
    filter says the same in SQL, app.plans.queries)."""
    return due_date is not None and due_date < today and status in OPEN_STATUSES


class Rag(StrEnum):
    """A plan item's red/amber/green rating: how its owner judges delivery, separate from its
    status (an active item can be red)."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class Scope(StrEnum):
    """What an analysis or assessment covers: one organisation, or everything below it."""

    ORGANISATION = "organisation"
    SYSTEM = "system"


class CapabilityKind(StrEnum):
    ASSET = "asset"
    ACTIVITY = "activity"


class Audience(StrEnum):
    ORGANISATION = "organisation"
    SYSTEM = "system"
    POLICY = "policy"


class LoopStage(StrEnum):
    """Where a capability sits in the LHS learning cycle: practice -> data -> knowledge ->
    practice (the general cycle of the LHS literature; HDR UK's Better Care Loop is narrower,
    about developing and spreading analytics tools)."""

    PRACTICE_TO_DATA = "practice_to_data"
    DATA_TO_KNOWLEDGE = "data_to_knowledge"
    KNOWLEDGE_TO_PRACTICE = "knowledge_to_practice"
    ENABLING = "enabling"


class Derivation(StrEnum):
    """How a capability's citation relates to the report."""

    DIRECT = "direct"
    MODELLING_DECISION = "modelling_decision"


class Travel(StrEnum):
    """How a capability moves between the members of a system."""

    SHAREABLE = "shareable"
    SPREAD_BY_LEARNING = "spread_by_learning"
    LOCAL_ONLY = "local_only"


# The words of access control and the audit trail (stored in tables too).
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
    PLAN_ITEM = "plan_item"
    SELF_ASSESSMENT = "self_assessment"  # a questionnaire's answers, their submit and moderation
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


# A self-assessment: the questionnaire a team fills in, then submits and has moderated.
class SelfAssessmentStatus(StrEnum):
    """A draft's answers change freely; a submitted one is read-only, except for moderation."""

    DRAFT = "draft"
    SUBMITTED = "submitted"


class ModerationDecision(StrEnum):
    """What a moderator does with an answer: agree with its level, or change it with a reason."""

    AGREE = "agree"
    CHANGE = "change"
