"""The gap-analysis engine: a pure, deterministic function of plain data.

No I/O and no clock (``generated_at`` is passed in): the same records and model give the same
JSON, and ties are broken by capability key. The scoring is documented, with worked examples,
in docs/gap-analysis.md; the numbers in each recommendation's ``why`` recompute its score.
Crediting lives in credit.py, the arithmetic in scoring.py, the system roll-up in system.py.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime

from app.analysis.credit import ACTIVITY_MATURITY, credited, in_scope, met_keys, states
from app.analysis.profile import Profile, State
from app.analysis.schemas import (
    EvidenceItem,
    Gap,
    GapAnalysis,
    GapStatus,
    GettingStarted,
    OrganisationRef,
    Recommendation,
    ReferenceModelRef,
    Why,
)
from app.analysis.scoring import (
    Order,
    dependents,
    effective_orders,
    lead_weight,
    prerequisite_factor,
    rank,
    summary,
)
from app.analysis.steps import getting_started, learning_loop, starting_steps
from app.analysis.system import analyse_system
from app.reference.rules import Ranking
from app.reference.schemas import Capability, ReferenceModelPublic

__all__ = ["ACTIVITY_MATURITY", "analyse", "analyse_system", "met_keys"]


def _evidence(
    capability: Capability, state: State, model: ReferenceModelPublic
) -> list[EvidenceItem]:
    return [
        EvidenceItem(
            kind=c.kind,
            id=c.id,
            name=c.name,
            organisation_id=c.organisation_id,
            maturity=c.maturity,
            credited_maturity=credited(c, capability, model),
            confidence=c.confidence,
            inherited=c.inherited,
        )
        for c in state.claims
        if c.id is not None
    ]


def _note(state: State, model: ReferenceModelPublic) -> str | None:
    if state.status == GapStatus.NOT_APPLICABLE:
        return "Not expected of this type of organisation; never recommended."
    notes = []
    if state.blocked_by:
        notes.append(
            f"Cannot be met before its prerequisite(s) {', '.join(state.blocked_by)}: credited "
            "at most one level below target until then."
        )
    if state.discount and state.status != GapStatus.MET:
        ceiling = model.rules.unchecked_maximum
        notes.append(
            f"Recorded at maturity {state.reported}, credited {state.current}: evidence below "
            "the model's minimum confidence counts one level lower"
            + (f" and never above {ceiling}" if ceiling is not None else "")
            + ", and an activity needs an outcome or evidence to count above developing"
            * (model.rules.unevidenced_activity_maximum is not None)
            + ". Have it peer reviewed, or add evidence."
        )
    if state.best is not None and state.best.inherited:
        notes.append("Met through an asset shared by an organisation above this one.")
    return " ".join(notes) or None


def _gap(capability: Capability, state: State, model: ReferenceModelPublic) -> Gap:
    return Gap(
        capability_key=capability.key,
        area=capability.area,
        audience=capability.audience,
        title=capability.title,
        status=state.status,
        current_maturity=state.current,
        target_maturity=state.target,
        confidence=state.best.confidence if state.best is not None else None,
        evidence=_evidence(capability, state, model),
        blocked_by=list(state.blocked_by),
        note=_note(state, model),
    )


def _whys(
    capabilities: Sequence[Capability],
    unmet: Mapping[str, Capability],
    current: Mapping[str, State],
    model: ReferenceModelPublic,
) -> dict[str, Why]:
    enabling = dependents(capabilities, soft=True)
    whys = {}
    for key, c in unmet.items():
        state = current[key]
        gap = max(0, state.target - state.current)
        unlocks = len(enabling[key] & unmet.keys())
        weight, tie_break = lead_weight(c, model.rules)
        whys[key] = Why(
            weight=weight,
            tie_break=tie_break,
            target_maturity=state.target,
            current_maturity=state.current,
            reported_maturity=state.reported,
            confidence_discount=state.discount,
            gap=gap,
            gap_factor=round(gap / state.target, 4),
            unlocks=unlocks,
            prerequisite_factor=prerequisite_factor(unlocks, model.rules),
        )
    return whys


def _steps_first(
    unmet: Mapping[str, Capability], started: GettingStarted, model: ReferenceModelPublic
) -> dict[str, int]:
    """Under organisation_first: the Box 11 step (1-4, not yet taken) each capability answers."""
    if model.rules.ranking != Ranking.ORGANISATION_FIRST:
        return {}
    open_steps = starting_steps(started)
    found = {}
    for key, c in unmet.items():
        cited = [s.box11_step for s in c.sources if s.box11_step in open_steps]
        if cited:
            found[key] = min(step for step in cited if step is not None)
    return found


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
    gaps = [_gap(c, current[c.key], model) for c in capabilities]
    unmet = {
        c.key: c
        for c in capabilities
        if current[c.key].status not in (GapStatus.MET, GapStatus.NOT_APPLICABLE)
    }
    whys = _whys(capabilities, unmet, current, model)
    scores = {
        k: round(100 * w.weight * w.gap_factor * w.prerequisite_factor, 2) for k, w in whys.items()
    }
    started = getting_started(profile, capabilities, current, model.rules)
    step_of = _steps_first(unmet, started, model)
    orders: dict[str, Order] = {
        k: (0 if k in step_of else 1, step_of.get(k, 0), -scores[k], -whys[k].tie_break)
        for k in unmet
    }
    blocked = {k: [p for p in unmet[k].depends_on if p in unmet] for k in unmet}
    effective = effective_orders(orders, dependents(capabilities))
    recommendations = [
        Recommendation(
            rank=position,
            capability_key=key,
            area=unmet[key].area,
            audience=unmet[key].audience,
            title=unmet[key].title,
            status=current[key].status,
            priority_score=scores[key],
            ranking_score=-effective[key][2],
            getting_started_step=effective[key][1] or None,
            why=whys[key],
            actions=unmet[key].actions,
            national_enabler=unmet[key].national_enabler,
            blocked_by=blocked[key],
            sources=unmet[key].sources,
            available_in_system=[ref for ref, met in peers if key in met],
        )
        for position, key in enumerate(rank(effective, blocked), start=1)
    ]
    return GapAnalysis(
        scope="organisation",
        organisation=profile.organisation,
        reference_model=ReferenceModelRef(version=model.version),
        generated_at=generated_at,
        summary=summary(profile, model, current),
        gaps=gaps,
        recommendations=recommendations,
        getting_started=started,
        learning_loop=learning_loop(capabilities, current),
    )
