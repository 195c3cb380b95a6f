"""The gap-analysis engine: a pure, deterministic function of plain data.

No I/O and no clock (``generated_at`` is passed in): the same records and model give the same
JSON, and ties are broken by capability key. The scoring is documented, with a worked example,
in docs/gap-analysis.md; the numbers in each recommendation's ``why`` recompute its score. The
arithmetic lives in scoring.py, the system roll-up in system.py.
"""

from collections.abc import Sequence
from datetime import datetime

from app.analysis.profile import Profile, State
from app.analysis.schemas import (
    EvidenceItem,
    Gap,
    GapAnalysis,
    GapStatus,
    OrganisationRef,
    Recommendation,
    ReferenceModelRef,
    Why,
)
from app.analysis.scoring import (
    ACTIVITY_MATURITY,
    UNLOCK_BONUS,
    credited,
    dependents,
    in_scope,
    met_keys,
    rank,
    ranking_scores,
    states,
    summary,
)
from app.analysis.steps import getting_started, learning_loop
from app.analysis.system import analyse_system
from app.reference.schemas import Capability, ReferenceModelPublic
from app.vocabulary import Confidence

__all__ = ["ACTIVITY_MATURITY", "analyse", "analyse_system", "met_keys"]


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
