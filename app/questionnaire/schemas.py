"""The questionnaire's contract: one question per capability that applies, grouped by area."""

from pydantic import Field

from app.api import ApiModel
from app.vocabulary import Area, CapabilityKind, OrganisationType


class AnswerOption(ApiModel):
    level: int = Field(ge=0, le=4, description="The maturity level this answer records.")
    label: str = Field(description="The level's name: Absent, Planned, Developing, ...")
    descriptor: str = Field(description="What the level looks like, from the model.")
    evidence_prompt: str | None = Field(
        default=None, description="What evidence would back this level (model 2026.2 on)."
    )


class Question(ApiModel):
    capability_key: str
    area: Area
    kind: CapabilityKind
    title: str
    question: str = Field(description="The question, in plain words.")
    description: str
    target_level: int = Field(ge=0, le=4, description="The model's target for this type.")
    answers: list[AnswerOption] = Field(description="Levels 0 to 4, in order.")
    not_applicable_allowed: bool = Field(
        description="Whether 'not applicable here' is an answer for this organisation type."
    )


class QuestionnaireArea(ApiModel):
    area: Area
    title: str
    questions: list[Question]


class QuestionnaireModelRef(ApiModel):
    version: str
    title: str


class Questionnaire(ApiModel):
    reference_model: QuestionnaireModelRef
    organisation_type: OrganisationType
    question_count: int
    areas: list[QuestionnaireArea] = Field(description="In the model's order.")
