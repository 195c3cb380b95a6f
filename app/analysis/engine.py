"""The gap-analysis engine: a pure, deterministic function of plain data.

No I/O and no clock (``generated_at`` is passed in): the same records and model give the same
JSON, and ties are broken by capability key. The scoring is documented, with a worked example,
in docs/gap-analysis.md; the numbers in each recommendation's ``why`` recompute its score.
"""

import heapq
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from app.analysis.profile import Claim, Profile, State
from app.analysis.schemas import (
    AreaSummary,
    CapabilityCoverage,
    EvidenceItem,
    Gap,
    GapAnalysis,
    GapStatus,
    OrganisationRef,
    Recommendation,
    ReferenceModelRef,
    Strategy,
    Summary,
    SystemGapAnalysis,
    SystemRecommendation,
    SystemSummary,
    Why,
)
from app.analysis.steps import getting_started, learning_loop
from app.reference.schemas import Capability, ReferenceModelPublic
from app.vocabulary import ActivityStatus, Area, Audience, CapabilityKind, Confidence

# Activities are records of work, not self-ratings: they are credited by status, undiscounted.
ACTIVITY_MATURITY: Mapping[ActivityStatus, int] = {
    ActivityStatus.PLANNED: 1,
    ActivityStatus.ACTIVE: 3,
    ActivityStatus.COMPLETED: 3,
    ActivityStatus.STOPPED: 0,
}
# Work under way towards an asset (a project to build a data platform) is not the asset: an
# activity counts at most "developing" towards a capability of kind asset.
ACTIVITY_TOWARDS_ASSET = 2
UNLOCK_BONUS = 0.1
BUILD_ONCE_BELOW = 0.25


def in_scope(model: ReferenceModelPublic) -> list[Capability]:
    """Capabilities an organisation or system is assessed on (policy ones are for governments)."""
    return [c for c in model.capabilities if c.audience != Audience.POLICY]


def recorded(claim: Claim, capability: Capability) -> int:
    """The maturity a claim shows for this capability, before any confidence discount."""
    if claim.kind == CapabilityKind.ACTIVITY and capability.kind == CapabilityKind.ASSET:
        return min(claim.maturity, ACTIVITY_TOWARDS_ASSET)
    return claim.maturity


def credited(claim: Claim, capability: Capability, minimum: Confidence) -> int:
    """Evidence below the model's minimum confidence counts one level lower."""
    maturity = recorded(claim, capability)
    if claim.confidence is not None and claim.confidence.rank < minimum.rank:
        return max(0, maturity - 1)
    return maturity


def state_of(capability: Capability, claims: Sequence[Claim], minimum: Confidence) -> State:
    if not claims:
        status = GapStatus.MET if capability.target_maturity == 0 else GapStatus.MISSING
        return State(current=0, reported=0, best=None, status=status)

    def order(claim: Claim) -> tuple[int, int, int, str, str]:
        confidence = claim.confidence.rank if claim.confidence is not None else -1
        credit = credited(claim, capability, minimum)
        return (credit, recorded(claim, capability), confidence, claim.name, str(claim.id))

    ordered = sorted(claims, key=order, reverse=True)
    best = ordered[0]
    current = credited(best, capability, minimum)
    reported = max(recorded(c, capability) for c in claims)
    if current >= capability.target_maturity:
        status = GapStatus.MET
    elif current == 0:
        status = GapStatus.MISSING
    else:
        status = GapStatus.NEEDS_DEVELOPMENT
    return State(current, reported, best, status, tuple(ordered))


def states(profile: Profile, model: ReferenceModelPublic) -> dict[str, State]:
    by_key: dict[str, list[Claim]] = {}
    for claim in profile.claims:
        by_key.setdefault(claim.capability_key, []).append(claim)
    return {
        c.key: state_of(c, by_key.get(c.key, []), model.minimum_confidence) for c in in_scope(model)
    }


def met_keys(profile: Profile, model: ReferenceModelPublic) -> frozenset[str]:
    return frozenset(k for k, s in states(profile, model).items() if s.status == GapStatus.MET)


def _share(capabilities: Iterable[Capability], current: Mapping[str, State]) -> float:
    """Weighted share of target maturity reached, 0-100."""
    total = reached = 0.0
    for c in capabilities:
        total += c.weight
        progress = 1.0 if c.target_maturity == 0 else current[c.key].current / c.target_maturity
        reached += c.weight * min(1.0, progress)
    return round(100 * reached / total, 1) if total else 100.0


def summary(profile: Profile, model: ReferenceModelPublic, current: Mapping[str, State]) -> Summary:
    capabilities = in_scope(model)

    def counts(subset: list[Capability]) -> tuple[int, int, int]:
        statuses = [current[c.key].status for c in subset]
        return (
            statuses.count(GapStatus.MET),
            statuses.count(GapStatus.MISSING),
            statuses.count(GapStatus.NEEDS_DEVELOPMENT),
        )

    areas = []
    for area in Area:
        subset = [c for c in capabilities if c.area == area]
        met, missing, developing = counts(subset)
        areas.append(
            AreaSummary(
                area=area,
                score=_share(subset, current),
                capabilities_met=met,
                capabilities_total=len(subset),
                missing=missing,
                needs_development=developing,
            )
        )
    met, missing, developing = counts(capabilities)
    keys = {c.key for c in capabilities}
    unmatched = sum(
        1
        for claim in profile.claims
        if claim.id is not None and not claim.inherited and claim.capability_key not in keys
    )
    return Summary(
        score=_share(capabilities, current),
        capabilities_met=met,
        capabilities_total=len(capabilities),
        missing=missing,
        needs_development=developing,
        unlinked_records=profile.unlinked_records + unmatched,
        areas=areas,
    )


def dependents(capabilities: Sequence[Capability]) -> dict[str, set[str]]:
    """For each capability, every capability that needs it, directly or transitively."""
    direct: dict[str, set[str]] = {c.key: set() for c in capabilities}
    for c in capabilities:
        for prerequisite in c.depends_on:
            if prerequisite in direct:
                direct[prerequisite].add(c.key)
    closure: dict[str, set[str]] = {}

    def visit(key: str) -> set[str]:
        if key not in closure:
            closure[key] = set()
            for child in direct[key]:
                closure[key] |= {child} | visit(child)
        return closure[key]

    for key in direct:
        visit(key)
    return closure


def ranking_scores(
    scores: Mapping[str, float], needed_by: Mapping[str, set[str]]
) -> dict[str, float]:
    """A prerequisite is as urgent as the most urgent capability waiting on it."""
    return {
        key: max([score] + [scores[d] for d in needed_by.get(key, set()) if d in scores])
        for key, score in scores.items()
    }


def rank(ranking: Mapping[str, float], prerequisites: Mapping[str, list[str]]) -> list[str]:
    """Highest ranking score first, never above an unranked prerequisite; ties by key."""
    pending = set(ranking)
    waiting_on = {k: {p for p in prerequisites[k] if p in pending} for k in ranking}
    ready = [(-ranking[k], k) for k in ranking if not waiting_on[k]]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, key = heapq.heappop(ready)
        order.append(key)
        for other, needs in waiting_on.items():
            if key in needs:
                needs.discard(key)
                if not needs:
                    heapq.heappush(ready, (-ranking[other], other))
    return order


def _evidence(capability: Capability, state: State, minimum: Confidence) -> list[EvidenceItem]:
    return [
        EvidenceItem(
            kind=c.kind,
            id=c.id,
            name=c.name,
            organisation_id=c.organisation_id,
            maturity=c.maturity,
            credited_maturity=credited(c, capability, minimum),
            confidence=c.confidence,
            inherited=c.inherited,
        )
        for c in state.claims
        if c.id is not None
    ]


def _note(state: State) -> str | None:
    notes = []
    if state.discount and state.status != GapStatus.MET:
        notes.append(
            f"Recorded at maturity {state.reported}, credited {state.current}: evidence below "
            "the model's minimum confidence counts one level lower. Have it peer reviewed."
        )
    if state.best is not None and state.best.inherited:
        notes.append("Met through an asset shared by an organisation above this one.")
    return " ".join(notes) or None


def _gap(capability: Capability, state: State, minimum: Confidence) -> Gap:
    return Gap(
        capability_key=capability.key,
        area=capability.area,
        audience=capability.audience,
        title=capability.title,
        status=state.status,
        current_maturity=state.current,
        target_maturity=capability.target_maturity,
        confidence=state.best.confidence if state.best is not None else None,
        evidence=_evidence(capability, state, minimum),
        note=_note(state),
    )


def analyse(
    profile: Profile,
    model: ReferenceModelPublic,
    *,
    generated_at: datetime,
    peers: Sequence[tuple[OrganisationRef, frozenset[str]]] = (),
) -> GapAnalysis:
    """One organisation against the model; ``peers`` are the others in its system."""
    capabilities = in_scope(model)
    current = states(profile, model)
    minimum = model.minimum_confidence
    gaps = [_gap(c, current[c.key], minimum) for c in capabilities]
    unmet = {c.key: c for c in capabilities if current[c.key].status != GapStatus.MET}
    needed_by = dependents(capabilities)
    whys: dict[str, Why] = {}
    for key, c in unmet.items():
        state = current[key]
        gap = max(0, c.target_maturity - state.current)
        unlocks = len(needed_by[key] & unmet.keys())
        whys[key] = Why(
            weight=c.weight,
            target_maturity=c.target_maturity,
            current_maturity=state.current,
            reported_maturity=state.reported,
            confidence_discount=state.discount,
            gap=gap,
            gap_factor=round(gap / c.target_maturity, 4),
            unlocks=unlocks,
            prerequisite_factor=round(1 + UNLOCK_BONUS * unlocks, 4),
        )
    scores = {
        k: round(100 * w.weight * w.gap_factor * w.prerequisite_factor, 2) for k, w in whys.items()
    }
    blocked = {k: [p for p in unmet[k].depends_on if p in unmet] for k in unmet}
    ranking = ranking_scores(scores, needed_by)
    recommendations = [
        Recommendation(
            rank=position,
            capability_key=key,
            area=unmet[key].area,
            audience=unmet[key].audience,
            title=unmet[key].title,
            status=current[key].status,
            priority_score=scores[key],
            ranking_score=ranking[key],
            why=whys[key],
            actions=unmet[key].actions,
            blocked_by=blocked[key],
            sources=unmet[key].sources,
            available_in_system=[ref for ref, met in peers if key in met],
        )
        for position, key in enumerate(rank(ranking, blocked), start=1)
    ]
    return GapAnalysis(
        scope="organisation",
        organisation=profile.organisation,
        reference_model=ReferenceModelRef(version=model.version),
        generated_at=generated_at,
        summary=summary(profile, model, current),
        gaps=gaps,
        recommendations=recommendations,
        getting_started=getting_started(profile, capabilities, current),
        learning_loop=learning_loop(capabilities, current),
    )


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
    member_scores = [_share(capabilities, s) for _, s in member_states]
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
