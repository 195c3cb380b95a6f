"""The reference model's contract, used for the shipped data file, for PUT and for reads.

Weights: a capability's default weight is the highest 'very high priority' percentage among
its Table 3 / Table 4 sources divided by 100, or 0.30 when it cites only recommendations or
Box 11 steps. Taking the highest keeps the report's order within each table (a capability
cited by a higher percentage never weighs less). A variant may set its own weights.
"""

import uuid
from datetime import date
from typing import Annotated, Self

from pydantic import ConfigDict, Field, model_validator

from app.api import ApiInput, ApiModel
from app.fields import Text200, Text2000
from app.reference.parts import (
    EvidencePrompts,
    HelpResource,
    Levels,
    NationalEnabler,
    Source,
    TypeTarget,
)
from app.reference.rules import Rules
from app.vocabulary import (
    Area,
    Audience,
    CapabilityKind,
    Confidence,
    LoopStage,
    ModelStatus,
    OrganisationType,
    Travel,
)

DEFAULT_WEIGHT = 0.30

# Shipped versions no new work may use, and why. Status is not part of a stored document: a
# shipped document is read-only and pinned by assessments, so retiring one changes no stored
# byte, and the databases that installed it before it was retired see it retired too.
RETIRED = {
    "2024.1": "it cites Table 4 row 5 for capabilities that row does not name, without saying "
    "the link is the model's own; 2026.2 labels it",
}


def status_of(version: str) -> ModelStatus:
    return ModelStatus.RETIRED if version in RETIRED else ModelStatus.CURRENT


Key = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=64)]
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
Version = Annotated[str, Field(pattern=VERSION_PATTERN)]
Sentence = Text2000


class CapabilityInput(ApiInput):
    key: Key
    area: Area
    kind: CapabilityKind
    title: Text200
    description: Sentence
    audience: Audience
    weight: float | None = Field(
        default=None, ge=0, le=1, description="Omit to derive it from the sources."
    )
    target_maturity: int = Field(ge=0, le=4, strict=True)
    levels: Levels
    depends_on: list[Key] = Field(
        default=[], description="Hard prerequisites: never met, nor ranked, before these."
    )
    enabled_by: list[Key] = Field(
        default=[],
        description="Soft prerequisites: enabling links that add to their priority, not blocks.",
    )
    loop_stage: LoopStage
    closes_link: bool = Field(
        default=True,
        description="Whether meeting it puts its learning-cycle link in place on its own "
        "(false for tools: people close the knowledge -> practice link).",
    )
    applies_to: list[OrganisationType] | None = Field(
        default=None, description="Organisation types it applies to; null: every type."
    )
    targets: list[TypeTarget] = Field(
        default=[], description="Targets that differ from targetMaturity, by organisation type."
    )
    travels: Travel | None = Field(
        default=None,
        description="shareable (build once, host for all), spread_by_learning, or local_only.",
    )
    own_duty: bool = Field(
        default=False,
        description="An organisation's own statutory duty (its own information-governance "
        "return, say): an asset shared from above never meets it (rule sharingFollowsTravel).",
    )
    hosts: list[OrganisationType] | None = Field(
        default=None,
        description="Organisation types fit to host it when a system builds it once (e.g. "
        "commissioning levers: the ICB); null: any member it applies to.",
    )
    national_enabler: NationalEnabler | None = None
    not_applicable_for: list[OrganisationType] | None = Field(
        default=None,
        description="Organisation types whose questionnaire may answer 'not applicable here' "
        "for it (model 2026.2 on); null: none may. Each must be a type it applies to.",
    )
    evidence_prompts: EvidencePrompts | None = Field(
        default=None,
        description="What evidence would back each level, shown beside the level in the "
        "questionnaire (model 2026.2 on).",
    )
    help: Annotated[
        list[HelpResource],
        Field(
            default=[],
            max_length=10,
            description="Toolkits, programmes, networks and communities of practice the source "
            "names for it (model 2026.2 on).",
        ),
    ]
    actions: Annotated[
        list[Sentence],
        Field(min_length=1, max_length=10, description="What the organisation itself can do."),
    ]
    sources: Annotated[list[Source], Field(min_length=1, max_length=20)]

    @model_validator(mode="after")
    def _targets_apply(self) -> Self:
        typed = [t.organisation_type for t in self.targets]
        if len(set(typed)) != len(typed):
            raise ValueError(f"{self.key}: one target per organisation type")
        if self.applies_to is not None and not set(typed) <= set(self.applies_to):
            raise ValueError(f"{self.key}: a target names a type it does not apply to")
        if (
            self.hosts is not None
            and self.applies_to is not None
            and not set(self.hosts) <= set(self.applies_to)
        ):
            # A host builds it for members it applies to; a host it does not apply to would
            # be measured against a capability that is not its own.
            raise ValueError(f"{self.key}: hosts names a type it does not apply to")
        if (
            self.not_applicable_for is not None
            and self.applies_to is not None
            and not set(self.not_applicable_for) <= set(self.applies_to)
        ):
            # "Not applicable here" is for a type it does apply to in general; one it does not
            # apply to never sees the question.
            raise ValueError(f"{self.key}: notApplicableFor names a type it does not apply to")
        enabler = self.national_enabler
        if enabler is not None and enabler.source.table == 4:
            raise ValueError(f"{self.key}: a national enabler cannot cite Table 4")
        return self


class Capability(ApiModel):
    key: str
    area: Area
    kind: CapabilityKind
    title: str
    description: str
    audience: Audience
    weight: float
    target_maturity: int
    levels: Levels
    depends_on: list[str] = Field(description="Hard prerequisites.")
    enabled_by: list[str] = Field(default=[], description="Soft prerequisites (enabling links).")
    loop_stage: LoopStage
    closes_link: bool = True
    applies_to: list[OrganisationType] | None = None
    targets: list[TypeTarget] = []
    travels: Travel | None = None
    own_duty: bool = False
    hosts: list[OrganisationType] | None = None
    national_enabler: NationalEnabler | None = None
    not_applicable_for: list[OrganisationType] | None = Field(
        default=None,
        description="Organisation types whose questionnaire may answer 'not applicable here' "
        "for it (model 2026.2 on); null: none may. Each must be a type it applies to.",
    )
    evidence_prompts: EvidencePrompts | None = Field(
        default=None,
        description="What evidence would back each level, shown beside the level in the "
        "questionnaire (model 2026.2 on).",
    )
    help: list[HelpResource] = Field(
        default=[],
        description="Toolkits, programmes, networks and communities of practice the source "
        "names for it (model 2026.2 on).",
    )
    actions: list[str]
    sources: list[Source]

    def applies(self, organisation_type: OrganisationType | None) -> bool:
        return (
            organisation_type is None
            or self.applies_to is None
            or organisation_type in self.applies_to
        )

    def target_for(self, organisation_type: OrganisationType | None) -> int:
        for target in self.targets:
            if target.organisation_type == organisation_type:
                return target.target_maturity
        return self.target_maturity


def derived_weight(sources: list[Source]) -> float:
    percentages = [s.percentage for s in sources if s.percentage is not None]
    return max(percentages) / 100 if percentages else DEFAULT_WEIGHT


class ReferenceModelInput(ApiInput):
    """A whole model version, as loaded by an administrator (or an ICS's own variant)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "West Yorkshire variant of 2024.1",
                    "description": "Raises the weight of interoperability for our system.",
                    "basedOn": "2024.1",
                    "publishedOn": "2024-09-01",
                    "weighting": "As 2024.1, with interoperable-data-sharing raised to 0.7.",
                    "minimumConfidence": "peer_reviewed",
                    "capabilities": [
                        {
                            "key": "data-platform",
                            "area": "data",
                            "kind": "asset",
                            "title": "Shared data platform",
                            "description": "Linked data across the system for analysis.",
                            "audience": "system",
                            "targetMaturity": 3,
                            "levels": {
                                "absent": "None.",
                                "planned": "Funded plan.",
                                "developing": "Some feeds.",
                                "established": "Core feeds, in use.",
                                "embedded": "Used daily everywhere.",
                            },
                            "dependsOn": [],
                            "loopStage": "practice_to_data",
                            "actions": ["Agree the core datasets."],
                            "sources": [{"table": 4, "rank": 5, "percentage": 59}],
                        }
                    ],
                }
            ]
        }
    )

    version: Version | None = Field(default=None, description="Must equal the path's version.")
    title: Text200
    description: Sentence
    based_on: Version | None = Field(
        default=None, description="The version this variant adapts; null for a base model."
    )
    published_on: date
    weighting: Sentence
    minimum_confidence: Confidence = Field(
        description="Evidence below this confidence is credited one maturity level lower."
    )
    rules: Rules = Field(default_factory=Rules)
    status: ModelStatus | None = Field(
        default=None,
        description="Read-only: ignored here, so that a model read with GET can be sent back; "
        "the service decides which versions are retired.",
    )
    capabilities: Annotated[list[CapabilityInput], Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        keys = [c.key for c in self.capabilities]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"capability keys must be unique: {', '.join(duplicates)}")
        known = set(keys)
        for capability in self.capabilities:
            needs = capability.depends_on + capability.enabled_by
            missing = [d for d in needs if d not in known]
            if missing:
                raise ValueError(f"{capability.key} depends on unknown {', '.join(missing)}")
        _refuse_cycles({c.key: c.depends_on + c.enabled_by for c in self.capabilities})
        return self


def _refuse_cycles(graph: dict[str, list[str]]) -> None:
    state: dict[str, int] = {}

    def visit(key: str, path: list[str]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            raise ValueError(f"dependsOn has a cycle: {' -> '.join([*path, key])}")
        state[key] = 1
        for dependency in graph[key]:
            visit(dependency, [*path, key])
        state[key] = 2

    for key in sorted(graph):
        visit(key, [])


class ReferenceModelPublic(ApiModel):
    version: str
    title: str
    description: str
    based_on: str | None
    published_on: date
    weighting: str
    minimum_confidence: Confidence
    rules: Rules = Field(default_factory=Rules)
    status: ModelStatus = Field(
        default=ModelStatus.CURRENT,
        description="retired: readable, and stored assessments keep it, but a new analysis, "
        "assessment, report or variant that names it is refused (409 MODEL_RETIRED). A "
        "variant is retired when the model it is based on is.",
    )
    capabilities: list[Capability]


class ReferenceModelSummary(ApiModel):
    version: str
    title: str
    based_on: str | None
    organisation_id: uuid.UUID | None = Field(
        description="The organisation whose variant it is (visible and usable only in its "
        "subtree); null for a model everyone uses."
    )
    published_on: date
    capability_count: int
    status: ModelStatus = Field(description="retired: not usable for new work (see the model).")
    is_default: bool = Field(description="Used when a request names no model version.")
    in_use: bool = Field(description="Pinned by a stored assessment: it can only be superseded.")


def to_public(data: ReferenceModelInput, *, version: str) -> ReferenceModelPublic:
    """Fill in derived weights: the stored document is complete and never recomputed."""
    return ReferenceModelPublic(
        version=version,
        title=data.title,
        description=data.description,
        based_on=data.based_on,
        published_on=data.published_on,
        weighting=data.weighting,
        minimum_confidence=data.minimum_confidence,
        rules=data.rules,
        status=status_of(version),
        capabilities=[
            Capability(
                **c.model_dump(exclude={"weight"}),
                weight=c.weight if c.weight is not None else derived_weight(c.sources),
            )
            for c in data.capabilities
        ],
    )
