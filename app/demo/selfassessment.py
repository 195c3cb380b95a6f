"""The demo's self-assessment: the primary care network's team answers the questionnaire of
the default model, submits it, and the ICS's clinical lead moderates two answers (agrees with
one, lowers another with a reason), through the self-assessment service as a client would.

The people are respondents, as signed links name them: the same operator credential with two
names is two people, so the one who answered is never the one who moderates."""

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.principal import Principal
from app.records import ExpectedVersion
from app.selfassessments import service
from app.selfassessments.schemas import AnswerInput, ModerationInput, SelfAssessmentCreate

RESPONDENT = "Demo Valley PCN clinical director"
MODERATOR = "Demo Valley ICS clinical lead for improvement"
# (capability, level, comment): what the team answered.
ANSWERS = (
    ("learning-culture", 2, "Practices share significant-event learning at the monthly meeting."),
    ("improvement-capability", 2, "Two staff trained in QI; one project a year."),
    ("protected-improvement-time", 1, "Agreed in principle; not yet in rotas."),
    ("care-improvement-priorities", 2, "Frailty and diabetes chosen with the ICS."),
    ("service-user-voice", 1, "A patient participation group in two of five practices."),
)
# (capability, decision, level, reason): what the moderator did.
MODERATIONS: tuple[tuple[str, str, int | None, str | None], ...] = (
    ("learning-culture", "agree", None, None),
    (
        "improvement-capability",
        "change",
        1,
        "The project register shows no project finished this year: planned, not developing.",
    ),
)


async def load(session: AsyncSession, principal: Principal, organisation_id: uuid.UUID) -> None:
    """Open, answer, submit and moderate, in the caller's transaction."""
    view = await service.open_draft(
        session,
        principal=principal,
        organisation_id=organisation_id,
        data=SelfAssessmentCreate(),
        respondent=RESPONDENT,
    )
    for key, level, comment in ANSWERS:
        view = await service.record_answer(
            session,
            principal=principal,
            self_assessment_id=view.id,
            capability_key=key,
            answer=AnswerInput.model_validate({"level": level, "comment": comment}),
            respondent=RESPONDENT,
        )
    view = await service.submit(
        session,
        principal=principal,
        self_assessment_id=view.id,
        expected=ExpectedVersion(frozenset({view.self_assessment.version})),
        respondent=RESPONDENT,
    )
    for key, decision, moderated, reason in MODERATIONS:
        await service.moderate(
            session,
            principal=principal,
            self_assessment_id=view.id,
            capability_key=key,
            data=ModerationInput.model_validate(
                {"decision": decision, "level": moderated, "reason": reason}
            ),
            respondent=MODERATOR,
        )
