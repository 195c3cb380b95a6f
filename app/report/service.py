"""Gather what the board report shows: the analyses, the system view and the trends, all as
the API's own response models (the report renders nothing the API does not also return)."""

import uuid
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from app.analysis import service as analysis_service
from app.analysis.schemas import GapAnalysis, SystemGapAnalysis
from app.assessments import service as assessments_service
from app.assessments.compare import compare, compare_systems
from app.assessments.schemas import (
    AssessmentComparison,
    AssessmentRef,
    SystemAssessmentComparison,
)
from app.organisations import service as organisations_service
from app.organisations.schemas import OrganisationPublic
from app.pagination import PageParams
from app.vocabulary import Scope

HISTORY = 12
# The live analysis is not stored, so it has no id of its own; the report never shows this one.
LIVE_ID = uuid.UUID(int=0)

C = TypeVar("C", AssessmentComparison, SystemAssessmentComparison)


@dataclass(frozen=True)
class Trend(Generic[C]):
    """Overall scores of the stored assessments, oldest first, then today's; and what changed
    since the newest stored one."""

    history: list[AssessmentRef]
    since_last: C


@dataclass(frozen=True)
class Report:
    organisation: OrganisationPublic
    analysis: GapAnalysis
    trend: Trend[AssessmentComparison] | None
    system: SystemGapAnalysis | None
    system_trend: Trend[SystemAssessmentComparison] | None


def _now(analysis: GapAnalysis | SystemGapAnalysis, score: float) -> AssessmentRef:
    return AssessmentRef(
        id=LIVE_ID,
        created_at=analysis.generated_at,
        reference_model=analysis.reference_model,
        overall_score=score,
        label="Now",
    )


async def gather(
    session: AsyncSession, *, organisation_id: uuid.UUID, model_version: str | None
) -> Report:
    # The analysis first: it reads everything else in one snapshot, and it says 404 or 422.
    analysis = await analysis_service.organisation_analysis(
        session, organisation_id=organisation_id, model_version=model_version
    )
    organisation = OrganisationPublic.model_validate(
        await organisations_service.get(session, organisation_id)
    )
    stored = await assessments_service.recent(
        session, organisation_id=organisation_id, scope=Scope.ORGANISATION, limit=HISTORY
    )
    trend = None
    if stored:
        last = stored[0]
        before = assessments_service.analysis_of(last)
        assert isinstance(before, GapAnalysis)  # organisation scope was asked for
        now = _now(analysis, analysis.summary.score)
        trend = Trend(
            history=[*map(assessments_service.ref, reversed(stored)), now],
            since_last=compare(
                before, analysis, before_ref=assessments_service.ref(last), after_ref=now
            ),
        )
    members = await organisations_service.members(
        session, organisation_id=organisation_id, all_levels=False, page=PageParams(limit=1)
    )
    system, system_trend = None, None
    if members:
        system = await analysis_service.system_analysis(
            session, organisation_id=organisation_id, model_version=model_version
        )
        system_trend = await _system_trend(session, system)
    return Report(
        organisation=organisation,
        analysis=analysis,
        trend=trend,
        system=system,
        system_trend=system_trend,
    )


async def _system_trend(
    session: AsyncSession, system: SystemGapAnalysis
) -> Trend[SystemAssessmentComparison] | None:
    stored = await assessments_service.recent(
        session, organisation_id=system.organisation.id, scope=Scope.SYSTEM, limit=HISTORY
    )
    if not stored:
        return None
    last = stored[0]
    before = assessments_service.analysis_of(last)
    assert isinstance(before, SystemGapAnalysis)  # system scope was asked for
    now = _now(system, system.summary.average_score)
    return Trend(
        history=[*map(assessments_service.ref, reversed(stored)), now],
        since_last=compare_systems(
            before, system, before_ref=assessments_service.ref(last), after_ref=now
        ),
    )
