"""The reference model's contract, used for the shipped data file, for PUT and for reads.

Weights: a capability's default weight is the highest 'very high priority' percentage among
its Table 3 / Table 4 sources divided by 100, or 0.30 when it cites only recommendations or
Box 11 steps. Taking the highest keeps the report's order within each table (a capability
cited by a higher percentage never weighs less). A variant may set its own weights.
"""

from datetime import date
from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from app.api import ApiInput, ApiModel
from app.fields import Text200, Text2000
from app.vocabulary import Area, Audience, CapabilityKind, Confidence, LoopStage

DEFAULT_WEIGHT = 0.30

Key = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=64)]
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
Version = Annotated[str, Field(pattern=VERSION_PATTERN)]
Sentence = Text2000


class Source(ApiModel):
    """Where a capability comes from in the report: a table row, a recommendation, a step."""

    model_config = ConfigDict(extra="forbid")

    table: Literal[3, 4] | None = Field(default=None, description="Table 3 (policy) or 4.")
    rank: int | None = Field(default=None, ge=1, le=12)
    percentage: int | None = Field(
        default=None, ge=0, le=100, description="% of experts rating it 'very high priority'."
    )
    recommendation: int | None = Field(default=None, ge=1, le=8)
    box11_step: int | None = Field(default=None, ge=1, le=8, description="Box 11 step.")

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        table_row = (self.table, self.rank, self.percentage)
        kinds = [
            all(v is not None for v in table_row),
            self.recommendation is not None,
            self.box11_step is not None,
        ]
        if sum(kinds) != 1 or (not kinds[0] and any(v is not None for v in table_row)):
            raise ValueError(
                "a source is exactly one of: {table, rank, percentage}, "
                "{recommendation} or {box11Step}"
            )
        return self


class Levels(ApiModel):
    """What each maturity level looks like for this capability."""

    model_config = ConfigDict(extra="forbid")

    absent: Sentence
    planned: Sentence
    developing: Sentence
    established: Sentence
    embedded: Sentence


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
    depends_on: list[Key] = []
    loop_stage: LoopStage
    actions: Annotated[list[Sentence], Field(min_length=1, max_length=10)]
    sources: Annotated[list[Source], Field(min_length=1, max_length=20)]


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
    depends_on: list[str]
    loop_stage: LoopStage
    actions: list[str]
    sources: list[Source]


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
    capabilities: Annotated[list[CapabilityInput], Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        keys = [c.key for c in self.capabilities]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"capability keys must be unique: {', '.join(duplicates)}")
        known = set(keys)
        for capability in self.capabilities:
            missing = [d for d in capability.depends_on if d not in known]
            if missing:
                raise ValueError(f"{capability.key} depends on unknown {', '.join(missing)}")
        _refuse_cycles({c.key: c.depends_on for c in self.capabilities})
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
    capabilities: list[Capability]


class ReferenceModelSummary(ApiModel):
    version: str
    title: str
    based_on: str | None
    published_on: date
    capability_count: int
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
        capabilities=[
            Capability(
                **c.model_dump(exclude={"weight"}),
                weight=c.weight if c.weight is not None else derived_weight(c.sources),
            )
            for c in data.capabilities
        ],
    )
