"""A crosswalk: the file that maps one model version's capabilities to another framework's
headings, and what the API shows of it and of an analysis rolled up by those headings."""

from enum import StrEnum
from typing import Literal, Self

from pydantic import Field, model_validator

from app.api import ApiInput, ApiModel, Links
from app.crosswalks.frameworks import HEADINGS, Framework
from app.fields import Text100


class Relationship(StrEnum):
    """How a capability's ground compares with a heading's, read from the capability's side."""

    EQUAL = "equal"
    SUBSET = "subset"
    SUPERSET = "superset"
    INTERSECT = "intersect"


class Judgement(StrEnum):
    MODEL = "model"


class MappingInput(ApiInput):
    capability: Text100
    heading: Text100
    relationship: Relationship
    rationale: str = Field(min_length=10, max_length=200)


class CrosswalkFile(ApiInput):
    """A crosswalk file in app/reference/data/crosswalks/: which model version it maps, and
    that every mapping is the model's own judgement."""

    framework: Framework
    model_version: str
    judgement: Judgement
    statement: str = Field(min_length=20)
    mappings: list[MappingInput] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_headings(self) -> Self:
        headings = HEADINGS[self.framework]
        wrong = [m.heading for m in self.mappings if m.heading not in headings]
        if wrong:
            raise ValueError(
                f"Not a heading of {self.framework}: {', '.join(wrong)} "
                f"(its headings: {', '.join(headings)})."
            )
        pairs = [(m.capability, m.heading) for m in self.mappings]
        if len(set(pairs)) != len(pairs):
            raise ValueError("A capability is mapped to the same heading twice.")
        return self


class CrosswalkMapping(ApiModel):
    capability_key: str
    heading: str = Field(description="The heading's key in the framework.")
    relationship: Relationship = Field(
        description="From the capability's side: equal, subset (the capability is part of the "
        "heading), superset (it covers more than the heading) or intersect (they overlap)."
    )
    rationale: str
    judgement: Literal["model"] = Field(
        default="model",
        description="Whose judgement the mapping is: the model's own, not the framework "
        "publisher's.",
    )


class Heading(ApiModel):
    key: str
    title: str


class Crosswalk(ApiModel):
    framework: Framework
    title: str
    reference_model_version: str = Field(description="The model version the crosswalk maps.")
    statement: str = Field(description="Whose judgement the mappings are, and on what basis.")
    headings: list[Heading] = Field(description="The framework's headings, in its own order.")
    items: list[CrosswalkMapping] = Field(
        description="Every mapping, in the model's capability order."
    )
    links: Links


class HeadingMapping(ApiModel):
    capability_key: str
    title: str
    relationship: Relationship
    rationale: str
    weight: float
    score: float | None = Field(
        description="100 x currentMaturity / targetMaturity (capped at 100); null when the "
        "capability does not apply here."
    )
    current_maturity: int
    target_maturity: int
    status: str


class HeadingScore(ApiModel):
    """One heading of the framework, scored from the capabilities mapped to it."""

    heading: str
    title: str
    score: float | None = Field(
        ge=0,
        le=100,
        description="The weight-weighted mean of its mapped capabilities' scores (each the "
        "share of its target reached, 0-100); null when none of them applies here.",
    )
    weight: float = Field(description="The sum of the weights the mean is taken over.")
    capabilities: int = Field(description="Mapped capabilities that apply here.")
    capabilities_met: int
    mappings: list[HeadingMapping] = Field(description="The mappings behind the score.")


class FrameworkView(ApiModel):
    """The analysis rolled up by another framework's headings (``view``)."""

    framework: Framework
    title: str
    statement: str
    headings: list[HeadingScore]
