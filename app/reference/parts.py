"""The pieces a capability is made of: its citations, maturity levels, per-type targets and
national enabler."""

from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from app.api import ApiModel
from app.fields import Text200, Text2000
from app.vocabulary import Derivation, OrganisationType

Sentence = Text2000


def _kind(*present: str) -> dict[str, Any]:
    """One shape of a source: these fields set, the other kinds' fields absent or null. Null
    is said as the only allowed value, not as a second type: ReDoc merges each shape with the
    properties' own schemas and warns of incompatible types."""
    kinds = ("table", "rank", "percentage", "recommendation", "box11Step", "section")
    return {
        "required": list(present),
        "properties": {
            name: {"not": {"type": "null"}} if name in present else {"enum": [None]}
            for name in kinds
        },
    }


class Source(ApiModel):
    """Where a capability comes from in the report: a table row, a recommendation, a Box 11
    step or a named passage; and whether the report says so or the model decided it."""

    # The one-of rule _one_kind enforces, stated in the schema for clients and fuzzers.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                _kind("table", "rank", "percentage"),
                _kind("recommendation"),
                _kind("box11Step"),
                _kind("section"),
            ]
        },
    )

    table: Literal[3, 4] | None = Field(default=None, description="Table 3 (policy) or 4.")
    rank: int | None = Field(default=None, ge=1, le=12)
    percentage: int | None = Field(
        default=None, ge=0, le=100, description="% of experts rating it 'very high priority'."
    )
    recommendation: int | None = Field(default=None, ge=1, le=8)
    box11_step: int | None = Field(default=None, ge=1, le=8, description="Box 11 step.")
    section: Text200 | None = Field(
        default=None, description="A passage of the chapter that has no number of its own."
    )
    derivation: Derivation | None = Field(
        default=None,
        description="direct: the cited text is about this capability; modelling_decision: the "
        "model links them (see note). Null in models older than 2026.1.",
    )
    note: Sentence | None = Field(default=None, description="Why, for a modelling decision.")

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        table_row = (self.table, self.rank, self.percentage)
        kinds = [
            all(v is not None for v in table_row),
            self.recommendation is not None,
            self.box11_step is not None,
            self.section is not None,
        ]
        if sum(kinds) != 1 or (not kinds[0] and any(v is not None for v in table_row)):
            raise ValueError(
                "a source is exactly one of: {table, rank, percentage}, "
                "{recommendation}, {box11Step} or {section}"
            )
        return self


class TypeTarget(ApiModel):
    """A target that differs for one kind of organisation."""

    model_config = ConfigDict(extra="forbid")

    organisation_type: OrganisationType
    target_maturity: int = Field(ge=1, le=4, strict=True)


class NationalEnabler(ApiModel):
    """The national action a capability derives from: for funders, regulators and national
    bodies, not for the organisation (its own part is in ``actions``)."""

    model_config = ConfigDict(extra="forbid")

    action: Sentence
    source: Source


class HelpResource(ApiModel):
    """Help the source names for building a capability: a toolkit, a programme, a network or a
    community of practice. ``url`` only where the source gives one (it names most without)."""

    model_config = ConfigDict(extra="forbid")

    name: Text200
    kind: Literal["toolkit", "programme", "network", "community_of_practice"]
    what: Sentence = Field(description="What it offers, in a sentence.")
    url: Text200 | None = Field(default=None, description="Only where the source gives one.")
    source: Source


class Levels(ApiModel):
    """What each maturity level looks like for this capability."""

    model_config = ConfigDict(extra="forbid")

    absent: Sentence
    planned: Sentence
    developing: Sentence
    established: Sentence
    embedded: Sentence


class EvidencePrompts(ApiModel):
    """What evidence would back each level of a capability: the questionnaire shows it beside
    the level's descriptor (model 2026.2 on). A level without a prompt asks for nothing."""

    model_config = ConfigDict(extra="forbid")

    absent: Sentence | None = None
    planned: Sentence | None = None
    developing: Sentence | None = None
    established: Sentence | None = None
    embedded: Sentence | None = None
