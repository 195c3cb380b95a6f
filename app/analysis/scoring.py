"""The engine's arithmetic: summary scores, priority weights and the prerequisite-respecting
ranking. Pure functions of plain data (docs/gap-analysis.md); crediting lives in credit.py."""

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence

from app.analysis.credit import confidence_of, in_scope
from app.analysis.profile import Profile, State
from app.analysis.schemas import (
    AreaSummary,
    GapStatus,
    ScoreByConfidence,
    ScoreByOrigin,
    ScoreProvenance,
    Summary,
)
from app.reference.rules import Ranking, Rules
from app.reference.schemas import DEFAULT_WEIGHT, Capability, ReferenceModelPublic
from app.vocabulary import Area, Confidence, Derivation

UNLOCK_BONUS = 0.1
# What a recommendation is ordered by, smallest first: (tier, Box 11 step, known gaps first,
# -score, -tie break).
Order = tuple[int, int, int, float, float]


def share(capabilities: Iterable[Capability], current: Mapping[str, State]) -> float:
    """Weighted share of target maturity reached, 0-100 (capabilities that apply only)."""
    total = reached = 0.0
    for c in capabilities:
        state = current[c.key]
        if not state.applicable:
            continue
        total += c.weight
        progress = 1.0 if state.target == 0 else state.current / state.target
        reached += c.weight * min(1.0, progress)
    return round(100 * reached / total, 1) if total else 100.0


UNRATED = "unrated"
BUCKETS = (*(c.value for c in Confidence), UNRATED)


def points_by_confidence(
    capabilities: Iterable[Capability], current: Mapping[str, State], rules: Rules
) -> dict[str, float]:
    """Unrounded points of ``share`` by the confidence of the claim credited for each
    capability (as the proof checks leave it): together they are the score before rounding."""
    applicable = [c for c in capabilities if current[c.key].applicable]
    total = sum(c.weight for c in applicable)
    points = dict.fromkeys(BUCKETS, 0.0)
    if not total:
        return points
    for c in applicable:
        state = current[c.key]
        if state.target == 0:
            # Reached by definition in ``share``: nothing was claimed, so nothing to check.
            points[UNRATED] += 100 * c.weight / total
            continue
        if state.best is None or state.current == 0:
            continue
        confidence = confidence_of(state.best, rules)
        bucket = confidence.value if confidence is not None else UNRATED
        points[bucket] += 100 * c.weight * min(1.0, state.current / state.target) / total
    return points


QUESTIONNAIRE = "questionnaire"
MODERATED = "moderated"


def points_from_questionnaire(
    capabilities: Iterable[Capability], current: Mapping[str, State]
) -> dict[str, float]:
    """Unrounded points of ``share`` credited to records a questionnaire wrote, and the part of
    them a moderator checked (the same arithmetic as ``points_by_confidence``)."""
    applicable = [c for c in capabilities if current[c.key].applicable]
    total = sum(c.weight for c in applicable)
    points = {QUESTIONNAIRE: 0.0, MODERATED: 0.0}
    for c in applicable if total else ():
        state = current[c.key]
        best = state.best
        if state.target == 0 or best is None or state.current == 0 or not best.questionnaire:
            continue
        earned = 100 * c.weight * min(1.0, state.current / state.target) / total
        points[QUESTIONNAIRE] += earned
        points[MODERATED] += earned if best.moderated else 0.0
    return points


def apportion(parts: Mapping[str, float], total: float) -> dict[str, float]:
    """Round parts to tenths that add up to ``total`` exactly (largest remainder): a reader
    adding the breakdown gets the score on the page."""
    tenths = round(total * 10)
    floors = {k: math.floor(v * 10) for k, v in parts.items()}
    left = tenths - sum(floors.values())
    by_remainder = sorted(parts, key=lambda k: (floors[k] - parts[k] * 10, k))
    while left > 0 and by_remainder:
        for key in by_remainder[:left]:
            floors[key] += 1
        left = tenths - sum(floors.values())
    while left < 0:  # only when the parts were rounded elsewhere: take from the largest
        key = max(floors, key=lambda k: floors[k])
        floors[key] -= 1
        left += 1
    return {k: v / 10 for k, v in floors.items()}


def provenance(
    points: Mapping[str, float],
    overall: float,
    questionnaire: Mapping[str, float] | None = None,
) -> ScoreProvenance:
    rounded = apportion(points, overall)
    written = min((questionnaire or {}).get(QUESTIONNAIRE, 0.0), overall)
    origins = apportion({"records": max(0.0, overall - written), QUESTIONNAIRE: written}, overall)
    moderated = min((questionnaire or {}).get(MODERATED, 0.0), written)
    return ScoreProvenance(
        by_confidence=ScoreByConfidence(**rounded),
        by_origin=ScoreByOrigin(**origins),
        # Rounded on its own: a part of the questionnaire's points, never more than them.
        moderated=min(round(moderated, 1), origins[QUESTIONNAIRE]),
    )


def summary(profile: Profile, model: ReferenceModelPublic, current: Mapping[str, State]) -> Summary:
    capabilities = in_scope(model)

    def counts(subset: list[Capability]) -> dict[str, int]:
        statuses = [current[c.key].status for c in subset]
        return {
            "capabilities_met": statuses.count(GapStatus.MET),
            "capabilities_total": len(subset) - statuses.count(GapStatus.NOT_APPLICABLE),
            "missing": statuses.count(GapStatus.MISSING),
            "needs_development": statuses.count(GapStatus.NEEDS_DEVELOPMENT),
            "blocked": statuses.count(GapStatus.BLOCKED),
            "not_applicable": statuses.count(GapStatus.NOT_APPLICABLE),
        }

    areas = []
    for area in Area:
        subset = [c for c in capabilities if c.area == area]
        areas.append(AreaSummary(area=area, score=share(subset, current), **counts(subset)))
    keys = {c.key for c in capabilities}
    unmatched = sum(
        1
        for claim in profile.claims
        if claim.id is not None and not claim.inherited and claim.capability_key not in keys
    )
    overall = share(capabilities, current)
    return Summary(
        overall_score=overall,
        unlinked_records=profile.unlinked_records + unmatched,
        areas=areas,
        provenance=provenance(
            points_by_confidence(capabilities, current, model.rules),
            overall,
            points_from_questionnaire(capabilities, current),
        ),
        **counts(capabilities),
    )


def _closure(direct: dict[str, set[str]]) -> dict[str, set[str]]:
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


def dependents(capabilities: Sequence[Capability], *, soft: bool = False) -> dict[str, set[str]]:
    """For each capability, every capability that needs it, directly or transitively (through
    hard prerequisites; with ``soft``, through enabling links too)."""
    direct: dict[str, set[str]] = {c.key: set() for c in capabilities}
    for c in capabilities:
        for prerequisite in c.depends_on + (c.enabled_by if soft else []):
            if prerequisite in direct:
                direct[prerequisite].add(c.key)
    return _closure(direct)


def table_weight(capability: Capability, table: int, *, direct_only: bool = False) -> float | None:
    """The highest percentage of the table's rows it cites; with ``direct_only``, of the rows
    the report itself links to it (not the model's own links)."""
    percentages = [
        s.percentage
        for s in capability.sources
        if s.table == table
        and s.percentage
        and not (direct_only and s.derivation == Derivation.MODELLING_DECISION)
    ]
    return max(percentages) / 100 if percentages else None


def lead_weight(capability: Capability, rules: Rules) -> tuple[float, float]:
    """(weight in the priority score, tie-break). organisation_first: Table 4 leads and Table 3
    breaks ties, because Table 3 rows are actions for national policymakers."""
    if rules.ranking == Ranking.WEIGHT:
        return capability.weight, 0.0
    return (
        table_weight(capability, 4, direct_only=rules.direct_weights_lead) or DEFAULT_WEIGHT,
        table_weight(capability, 3) or 0.0,
    )


def prerequisite_factor(unlocks: int, rules: Rules) -> float:
    bonus = UNLOCK_BONUS * unlocks
    if rules.prerequisite_bonus_cap is not None:
        bonus = min(bonus, rules.prerequisite_bonus_cap)
    return round(1 + bonus, 4)


def effective_orders(
    orders: Mapping[str, Order], needed_by: Mapping[str, set[str]]
) -> dict[str, Order]:
    """A prerequisite is as urgent as the most urgent capability waiting on it."""
    return {
        key: min([order] + [orders[d] for d in needed_by.get(key, set()) if d in orders])
        for key, order in orders.items()
    }


def rank(orders: Mapping[str, Order], prerequisites: Mapping[str, list[str]]) -> list[str]:
    """Most urgent first, never above an unranked prerequisite; ties by key."""
    pending = set(orders)
    waiting_on = {k: {p for p in prerequisites[k] if p in pending} for k in orders}
    ready = [(orders[k], k) for k in orders if not waiting_on[k]]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, key = heapq.heappop(ready)
        order.append(key)
        for other, needs in waiting_on.items():
            if key in needs:
                needs.discard(key)
                if not needs:
                    heapq.heappush(ready, (orders[other], other))
    return order
