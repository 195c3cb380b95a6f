"""What an imported return looks like in a file and in an analysis: the rows an import takes
(our own columns, not NHS England's export format) and the credit a return gave."""

from pydantic import ConfigDict, Field, JsonValue

from app.api import ApiInput, ApiModel
from app.vocabulary import Confidence, ReturnFramework

DMA_EXAMPLE: dict[str, JsonValue] = {
    "year": 2025,
    "pillar": "smart-foundations",
    "domain": "",
    "score": 3,
    "validated": "yes",
}
NHS_IMPACT_EXAMPLE: dict[str, JsonValue] = {
    "year": 2025,
    "component": "investing-in-people-and-culture",
    "score": 2,
    "validated": "no",
}

YEAR = (
    "The year of the return (e.g. 2025 for the 2025/26 DMA). Importing a year again "
    "replaces that year's rows."
)
VALIDATED = (
    "yes when the return was validated (by NHS England, an ICB or a peer review): "
    "its scores count as peer_reviewed; no or blank: self_assessed."
)


class DmaImportRow(ApiInput):
    """One score of a Digital Maturity Assessment return: a What Good Looks Like pillar, or
    one domain of it. Our columns, filled from the published return."""

    model_config = ConfigDict(json_schema_extra={"examples": [DMA_EXAMPLE]})

    year: int = Field(description=YEAR)
    pillar: str = Field(
        description="The WGLL pillar, by key (smart-foundations) or name (Smart foundations)."
    )
    domain: str | None = Field(
        default=None,
        max_length=100,
        description="Blank for the pillar's own score; else the DMA domain the score is for.",
    )
    score: int = Field(ge=1, le=5, description="The score as returned, 1-5.")
    validated: bool | None = Field(default=None, description=VALIDATED)


class NhsImpactImportRow(ApiInput):
    """One component score of an NHS IMPACT self-assessment. Our columns, filled from it."""

    model_config = ConfigDict(json_schema_extra={"examples": [NHS_IMPACT_EXAMPLE]})

    year: int = Field(description=YEAR)
    component: str = Field(description="The NHS IMPACT component, by key or name.")
    score: int = Field(
        ge=1, le=5, description="The component's level, 1 (lowest) to 5, in the assessment's order."
    )
    validated: bool | None = Field(default=None, description=VALIDATED)


class ReturnCredit(ApiModel):
    """A capability credited from an imported return (the organisation has no record of its
    own for it)."""

    capability_key: str
    framework: ReturnFramework
    year: int
    origin: str = Field(description="The framework and year, e.g. 'dma 2025'.")
    headings: list[str] = Field(
        description="The pillars or components whose scores stand for the capability (those "
        "the crosswalk maps as equal to it or covering it)."
    )
    score: int = Field(description="The lowest of those headings' scores, 1-5.")
    level: int = Field(description="The LHS level the score stands for: score - 1.")
    confidence: Confidence
    credited_maturity: int = Field(
        description="After the model's evidence rules, and never above one level below target."
    )


class ReturnUsed(ApiModel):
    """A return the analysis read: the latest year of each framework imported."""

    framework: ReturnFramework
    year: int
    origin: str
    credits: int = Field(description="Capabilities it credited.")
    warning: str | None = Field(
        default=None,
        description="Why it may mislead: more than two years old, or the model has no "
        "crosswalk to credit it through.",
    )
