"""The questionnaire, generated from a reference model: a pure function, so that a new model
version gets its own questionnaire without code."""

from app.analysis.credit import in_scope
from app.questionnaire.schemas import (
    AnswerOption,
    Question,
    Questionnaire,
    QuestionnaireArea,
    QuestionnaireModelRef,
)
from app.reference.schemas import Capability, ReferenceModelPublic
from app.vocabulary import Area, Maturity, OrganisationType

AREA_TITLES = {
    Area.DATA: "Data",
    Area.TECHNOLOGY: "Technology",
    Area.LEARNING_COMMUNITIES: "Learning communities",
    Area.IMPROVEMENT: "Improvement",
}
# The Levels fields, in level order: the level's number is its position.
LEVEL_FIELDS = tuple(level.name.lower() for level in Maturity)


def questions_for(
    model: ReferenceModelPublic, organisation_type: OrganisationType
) -> list[Capability]:
    """The capabilities an organisation of this type answers for: those it is assessed on
    (policy ones are for governments) that apply to its type, in the model's order."""
    return [c for c in in_scope(model) if c.applies(organisation_type)]


def not_applicable_allowed(capability: Capability, organisation_type: OrganisationType) -> bool:
    allowed = capability.not_applicable_for
    return allowed is not None and organisation_type in allowed


def question(capability: Capability, organisation_type: OrganisationType) -> Question:
    prompts = capability.evidence_prompts
    answers = [
        AnswerOption(
            level=level,
            label=name.capitalize(),
            descriptor=getattr(capability.levels, name),
            evidence_prompt=getattr(prompts, name) if prompts is not None else None,
        )
        for level, name in enumerate(LEVEL_FIELDS)
    ]
    return Question(
        capability_key=capability.key,
        area=capability.area,
        kind=capability.kind,
        title=capability.title,
        question=f"Which of these best describes your organisation today: {capability.title}?",
        description=capability.description,
        target_level=capability.target_for(organisation_type),
        answers=answers,
        not_applicable_allowed=not_applicable_allowed(capability, organisation_type),
    )


def build(model: ReferenceModelPublic, organisation_type: OrganisationType) -> Questionnaire:
    """One question per capability that applies to the type, grouped by area, the areas in the
    order the model first names them."""
    grouped: dict[Area, list[Question]] = {}
    for capability in questions_for(model, organisation_type):
        grouped.setdefault(capability.area, []).append(question(capability, organisation_type))
    return Questionnaire(
        reference_model=QuestionnaireModelRef(version=model.version, title=model.title),
        organisation_type=organisation_type,
        question_count=sum(len(q) for q in grouped.values()),
        areas=[
            QuestionnaireArea(area=area, title=AREA_TITLES[area], questions=questions)
            for area, questions in grouped.items()
        ],
    )
