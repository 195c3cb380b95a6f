"""The system view: roll an ICS's or network's members up, capability by capability, and say
whether to build a missing capability once for the system or spread it from members who have it.
"""

from collections.abc import Sequence
from datetime import datetime

from app.analysis.profile import Profile
from app.analysis.schemas import (
    CapabilityCoverage,
    GapStatus,
    OrganisationRef,
    ReferenceModelRef,
    Strategy,
    SystemGapAnalysis,
    SystemRecommendation,
    SystemSummary,
)
from app.analysis.scoring import (
    UNLOCK_BONUS,
    dependents,
    in_scope,
    rank,
    ranking_scores,
    share,
    states,
)
from app.reference.schemas import ReferenceModelPublic

BUILD_ONCE_BELOW = 0.25


def analyse_system(
    root: OrganisationRef,
    members: Sequence[Profile],
    model: ReferenceModelPublic,
    *,
    generated_at: datetime,
) -> SystemGapAnalysis:
    """Roll a system's members up: who meets what, and whether to build once or spread."""
    capabilities = in_scope(model)
    member_states = [(p.organisation, states(p, model)) for p in members]
    total = len(members)
    coverage: list[CapabilityCoverage] = []
    for c in capabilities:
        meeting = [ref for ref, s in member_states if s[c.key].status == GapStatus.MET]
        not_meeting = [ref for ref, s in member_states if s[c.key].status != GapStatus.MET]
        coverage.append(
            CapabilityCoverage(
                capability_key=c.key,
                area=c.area,
                title=c.title,
                members_meeting=len(meeting),
                members_total=total,
                coverage=round(len(meeting) / total, 4) if total else 0.0,
                meeting=meeting,
                not_meeting=not_meeting,
            )
        )
    by_key = {c.key: c for c in capabilities}
    open_keys = {cov.capability_key: cov for cov in coverage if cov.coverage < 1}
    needed_by = dependents(capabilities)
    scores: dict[str, float] = {}
    factors: dict[str, tuple[int, float]] = {}
    for key, cov in open_keys.items():
        unlocks = len(needed_by[key] & open_keys.keys())
        factor = round(1 + UNLOCK_BONUS * unlocks, 4)
        factors[key] = (unlocks, factor)
        scores[key] = round(100 * by_key[key].weight * (1 - cov.coverage) * factor, 2)
    blocked = {k: [p for p in by_key[k].depends_on if p in open_keys] for k in open_keys}
    ranking = ranking_scores(scores, needed_by)
    recommendations = []
    for position, key in enumerate(rank(ranking, blocked), start=1):
        cov = open_keys[key]
        build_once = cov.coverage < BUILD_ONCE_BELOW
        recommendations.append(
            SystemRecommendation(
                rank=position,
                capability_key=key,
                area=cov.area,
                title=cov.title,
                strategy=Strategy.BUILD_ONCE if build_once else Strategy.SPREAD,
                priority_score=scores[key],
                ranking_score=ranking[key],
                coverage=cov.coverage,
                weight=by_key[key].weight,
                unlocks=factors[key][0],
                prerequisite_factor=factors[key][1],
                explanation=(
                    f"Missing almost everywhere ({cov.members_meeting} of {total} members meet "
                    "it): build it once for the system, e.g. as an asset shared with members."
                    if build_once
                    else f"Met by {cov.members_meeting} of {total} members: spread it from them "
                    "to the rest rather than building it again."
                ),
                spread_from=[] if build_once else cov.meeting,
                blocked_by=blocked[key],
                actions=by_key[key].actions,
            )
        )
    member_scores = [share(capabilities, s) for _, s in member_states]
    return SystemGapAnalysis(
        scope="system",
        organisation=root,
        reference_model=ReferenceModelRef(version=model.version),
        generated_at=generated_at,
        summary=SystemSummary(
            members=total,
            average_score=round(sum(member_scores) / total, 1) if total else 0.0,
            capabilities_met_everywhere=sum(1 for cov in coverage if cov.coverage == 1),
            capabilities_total=len(capabilities),
        ),
        capabilities=coverage,
        recommendations=recommendations,
    )
