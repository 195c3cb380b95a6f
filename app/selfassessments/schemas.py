"""The self-assessment contract: a draft opened for a model version, its answers, its submit
and the moderation of its answers."""

import uuid
from datetime import datetime
from typing import Self

from pydantic import ConfigDict, Field, model_validator

from app.api import ApiInput, ApiModel, Page
from app.assets.schemas import EvidenceLink, EvidenceLinks, MaturityInput
from app.fields import Flag, Text2000
from app.reference.schemas import VERSION_PATTERN
from app.vocabulary import ModerationDecision, SelfAssessmentStatus


class SelfAssessmentCreate(ApiInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"referenceModel": "2026.2"}]})

    reference_model: str | None = Field(
        default=None,
        pattern=VERSION_PATTERN,
        description="The model version whose questionnaire is answered; omit for the default.",
    )


class AnswerInput(ApiInput):
    """A level 0-4, or notApplicable where the questionnaire allows it; not both."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "level": 2,
                    "comment": "Feeds from acute and community; primary care next year.",
                    "evidence": [
                        {"title": "Platform roadmap", "url": "https://example.nhs.uk/roadmap.pdf"}
                    ],
                },
                {"notApplicable": True, "comment": "Our ICS hosts it for us."},
            ]
        }
    )

    level: MaturityInput | None = None
    not_applicable: Flag = Field(
        default=False, description="'Not applicable here': only where the question allows it."
    )
    comment: Text2000 | None = None
    evidence: EvidenceLinks = []

    @model_validator(mode="after")
    def _one_answer(self) -> Self:
        if (self.level is None) != self.not_applicable:
            raise ValueError("give either level (0-4) or notApplicable: true, not both")
        return self


class SubmitRequest(ApiInput):
    """Nothing to set: send no body, or {}. As in every body, an unknown field is refused."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class ModerationInput(ApiInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"decision": "agree"},
                {"decision": "change", "level": 1, "reason": "The survey is planned, not run."},
            ]
        }
    )

    decision: ModerationDecision = Field(
        description="agree: the answered level stands, checked; change: the level below does."
    )
    level: MaturityInput | None = Field(default=None, description="Required with change.")
    reason: Text2000 | None = Field(default=None, description="Required with change.")

    @model_validator(mode="after")
    def _change_needs_level_and_reason(self) -> Self:
        if self.decision == ModerationDecision.CHANGE and (
            self.level is None or self.reason is None
        ):
            raise ValueError("a change needs the moderated level and a reason")
        if self.decision == ModerationDecision.AGREE and self.level is not None:
            raise ValueError("agree keeps the answered level: omit level")
        return self


class Moderation(ApiModel):
    decision: ModerationDecision
    level: int = Field(description="The level the record holds after moderation.")
    reason: str | None
    moderated_by: str
    moderator_respondent: str | None
    moderated_at: datetime


class AnswerPublic(ApiModel):
    capability_key: str
    level: int | None = Field(description="The answered level; null when not applicable.")
    not_applicable: bool
    comment: str | None
    evidence: list[EvidenceLink]
    answered_by: str = Field(description="The credential that saved the answer.")
    respondent: str | None = Field(description="The person named by the signed link, if any.")
    answered_at: datetime
    record_id: uuid.UUID | None = Field(
        description="The asset this answer writes (on submit) or wrote."
    )
    moderation: Moderation | None


class SelfAssessmentPublic(ApiModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    reference_model: str = Field(description="The model version whose questionnaire it answers.")
    status: SelfAssessmentStatus
    opened_by: str
    opened_by_respondent: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    submitted_by: str | None
    submitted_at: datetime | None
    assessment_id: uuid.UUID | None = Field(description="The assessment its submit stored.")
    question_count: int = Field(description="Questions in its questionnaire.")
    answers: list[AnswerPublic]


class SelfAssessmentSummary(ApiModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    reference_model: str
    status: SelfAssessmentStatus
    created_at: datetime
    submitted_at: datetime | None
    version: int


class SelfAssessmentPage(Page[SelfAssessmentSummary]):
    pass
