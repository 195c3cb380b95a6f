"""The engine's arithmetic: where an organisation stands on each capability, summary scores,
and the prerequisite-respecting ranking. Pure functions of plain data (docs/gap-analysis.md)."""

import heapq
from collections.abc import Iterable, Mapping, Sequence

from app.analysis.profile import Claim, Profile, State
from app.analysis.schemas import AreaSummary, GapStatus, Summary
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

    def order(claim: Claim) -> tuple[int, int, int, str, int]:
        confidence = claim.confidence.rank if claim.confidence is not None else -1
        credit = credited(claim, capability, minimum)
        identity = claim.id.int if claim.id is not None else -1
        return (credit, recorded(claim, capability), confidence, claim.name, identity)

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


def share(capabilities: Iterable[Capability], current: Mapping[str, State]) -> float:
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
                score=share(subset, current),
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
        score=share(capabilities, current),
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
