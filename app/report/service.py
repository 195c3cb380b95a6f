"""Gather what the board report shows: the analyses, the system view and the trends, all as
the API's own response models (the report renders nothing the API does not also return)."""

import uuid
from dataclasses import dataclass, field
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
from app.auth.principal import Principal
from app.benchmarks import service as benchmarks_service
from app.benchmarks.schemas import Benchmark
from app.config import Settings
from app.crosswalks import service as crosswalks
from app.crosswalks.frameworks import Framework
from app.crosswalks.schemas import FrameworkView
from app.db import ReadContext, reads_in
from app.organisations import service as organisations_service
from app.organisations.schemas import OrganisationPublic
from app.pagination import PageParams
from app.reference.parts import HelpResource
from app.vocabulary import Scope

HISTORY = 12
# The live analysis is not stored, so it has no id of its own; the report never shows this one.
LIVE_ID = uuid.UUID(int=0)

C = TypeVar("C", AssessmentComparison, SystemAssessmentComparison)


@dataclass(frozen=True)
class Trend(Generic[C]):
    """Overall scores of the stored assessments, oldest first, then today's; what changed
    since the newest stored one, and since the first (None when that is the same one)."""

    history: list[AssessmentRef]
    since_last: C
    since_first: C | None = None


@dataclass(frozen=True)
class Report:
    organisation: OrganisationPublic
    analysis: GapAnalysis
    trend: Trend[AssessmentComparison] | None
    system: SystemGapAnalysis | None
    system_trend: Trend[SystemAssessmentComparison] | None
    # The model's help for each capability (from the model the analysis used).
    help: dict[str, list[HelpResource]] = field(default_factory=dict)
    # Capabilities that are each organisation's own duty (its own IG return, say): an ICB can
    # show how, but cannot do them for a member, so the report does not say "ask the ICB".
    own_duties: frozenset[str] = frozenset()
    # The analysis by another framework's headings, when the report was asked for one.
    framework_view: FrameworkView | None = None
    # Where it stands among organisations of its type (None: not asked for).
    benchmark: Benchmark | None = None


def _now(analysis: GapAnalysis | SystemGapAnalysis, score: float) -> AssessmentRef:
    return AssessmentRef(
        id=LIVE_ID,
        created_at=analysis.generated_at,
        reference_model=analysis.reference_model,
        overall_score=score,
        label="Now",
    )


@dataclass(frozen=True)
class _Stored:
    """The stored side of a trend, read while the session is open."""

    history: list[AssessmentRef]
    last: GapAnalysis | SystemGapAnalysis
    first: tuple[AssessmentRef, GapAnalysis | SystemGapAnalysis] | None


async def _stored(
    session: AsyncSession, principal: Principal, organisation_id: uuid.UUID, scope: Scope
) -> _Stored | None:
    stored = await assessments_service.recent(
        session, principal=principal, organisation_id=organisation_id, scope=scope, limit=HISTORY
    )
    if not stored:
        return None
    oldest = await assessments_service.first(
        session, principal=principal, organisation_id=organisation_id, scope=scope
    )
    baseline = None
    if oldest is not None and oldest.id != stored[0].id:
        baseline = (assessments_service.ref(oldest), assessments_service.analysis_of(oldest))
    return _Stored(
        history=[assessments_service.ref(a) for a in reversed(stored)],
        last=assessments_service.analysis_of(stored[0]),
        first=baseline,
    )


async def gather(
    reads: ReadContext,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    model_version: str | None,
    view: Framework | None = None,
    settings: Settings | None = None,
) -> Report:
    """``settings``: the deployment's benchmark settings, to show the organisation against
    its type (as GET .../benchmark shows it to this caller); None leaves that part out."""
    # The analysis first: it says 404 for an unknown organisation, 422 for an unknown model.
    analysis, choice = await analysis_service.analyse(
        reads,
        principal=principal,
        organisation_id=organisation_id,
        scope=Scope.ORGANISATION,
        model_version=model_version,
    )
    assert isinstance(analysis, GapAnalysis)  # organisation scope was asked for
    framework_view = (
        None
        if view is None
        else crosswalks.view(analysis, choice.model, crosswalks.for_analysis(choice.model, view))
    )
    async with reads.snapshot() as session:
        organisation = await organisations_service.get(
            reads_in(session), organisation_id, principal=principal
        )
        members = await organisations_service.members(
            session,
            principal=principal,
            organisation_id=organisation_id,
            all_levels=False,
            page=PageParams(limit=1),
        )
        own = await _stored(session, principal, organisation_id, Scope.ORGANISATION)
        whole = (
            await _stored(session, principal, organisation_id, Scope.SYSTEM) if members else None
        )
    trend = None
    if own is not None:
        assert isinstance(own.last, GapAnalysis)  # organisation scope was asked for
        now = _now(analysis, analysis.summary.overall_score)
        since_first = None
        if own.first is not None:
            first_ref, first_analysis = own.first
            assert isinstance(first_analysis, GapAnalysis)
            since_first = compare(first_analysis, analysis, before_ref=first_ref, after_ref=now)
        trend = Trend(
            history=[*own.history, now],
            since_last=compare(own.last, analysis, before_ref=own.history[-1], after_ref=now),
            since_first=since_first,
        )
    system, system_trend = None, None
    if members:
        # Its own snapshot: the system view is a second analysis, as its endpoint makes it.
        rolled_up, _ = await analysis_service.analyse(
            reads,
            principal=principal,
            organisation_id=organisation_id,
            scope=Scope.SYSTEM,
            model_version=model_version,
        )
        assert isinstance(rolled_up, SystemGapAnalysis)  # system scope was asked for
        system = rolled_up
        if whole is not None:
            assert isinstance(whole.last, SystemGapAnalysis)
            now = _now(system, system.summary.overall_score)
            system_first = None
            if whole.first is not None:
                first_ref, first_analysis = whole.first
                assert isinstance(first_analysis, SystemGapAnalysis)
                system_first = compare_systems(
                    first_analysis, system, before_ref=first_ref, after_ref=now
                )
            system_trend = Trend(
                history=[*whole.history, now],
                since_last=compare_systems(
                    whole.last, system, before_ref=whole.history[-1], after_ref=now
                ),
                since_first=system_first,
            )
    benchmark = None
    if settings is not None:
        benchmark = await benchmarks_service.get(
            reads, principal=principal, organisation_id=organisation_id, settings=settings
        )
    return Report(
        benchmark=benchmark,
        organisation=organisation,
        analysis=analysis,
        trend=trend,
        system=system,
        system_trend=system_trend,
        help={c.key: c.help for c in choice.model.capabilities if c.help},
        own_duties=frozenset(
            c.key
            for c in choice.model.capabilities
            if choice.model.rules.sharing_follows_travel and c.own_duty
        ),
        framework_view=framework_view,
    )
