"""The gap-analysis engine: a pure, deterministic function of plain data.

No I/O and no clock (``generated_at`` is passed in): the same records and model give the same
JSON, and ties are broken by capability key. The scoring is documented, with worked examples,
in docs/gap-analysis.md; the numbers in each recommendation's ``why`` recompute its score.
Crediting lives in credit.py, the arithmetic in scoring.py, the order in ranking.py, the
action plan in plans.py, the system roll-up in system.py.
"""

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from app.analysis import plans, ranking
from app.analysis.credit import ACTIVITY_MATURITY, credited, in_scope, met_keys, states
from app.analysis.profile import Profile, State
from app.analysis.schemas import (
    EvidenceItem,
    Gap,
    GapAnalysis,
    GapStatus,
    OrganisationRef,
    Recommendation,
    ReferenceModelRef,
)
from app.analysis.scoring import summary
from app.analysis.steps import learning_loop
from app.analysis.system import analyse_system, family, same_family
from app.reference.schemas import Capability, ReferenceModelPublic
from app.returns.schemas import ReturnCredit, ReturnUsed
from app.vocabulary import Confidence, OrganisationType, ReturnFramework, Travel

__all__ = ["ACTIVITY_MATURITY", "analyse", "analyse_system", "met_keys"]


def _evidence(
    capability: Capability, state: State, model: ReferenceModelPublic
) -> list[EvidenceItem]:
    """What counts, with its credited maturity, then what is listed but counts for nothing here
    (a shared asset that cannot stand for this organisation's own duty): credited 0."""
    counted = [(c, credited(c, capability, model)) for c in state.claims]
    listed = [(c, 0) for c in state.not_counted]
    return [
        EvidenceItem(
            kind=c.kind,
            id=c.id,
            name=c.name,
            organisation_id=c.organisation_id,
            maturity=c.maturity,
            credited_maturity=credit,
            confidence=c.confidence,
            inherited=c.inherited,
        )
        for c, credit in counted + listed
        if c.id is not None
    ]


def _note(state: State, model: ReferenceModelPublic) -> str | None:
    if state.status == GapStatus.NOT_APPLICABLE:
        return "Not expected of this type of organisation; never recommended."
    if model.rules.notes_tell_cause:
        return _cause(state, model)
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
    notes += _returned(state)
    if state.best is not None and state.best.inherited:
        notes.append("Met through an asset shared by an organisation above this one.")
    return " ".join(notes) or None


def _returned(state: State) -> list[str]:
    basis = state.best.basis if state.best is not None else None
    if basis is None:
        return []
    return [
        f"Credited from the {basis.origin} return ({', '.join(basis.headings)} scored "
        f"{basis.score} of 5): no record of the organisation's own names it, and a return "
        "counts at most one level below target. Record it to show more."
    ]


def _cause(state: State, model: ReferenceModelPublic) -> str | None:
    """The note under notesTellCause: what holds the credit back, prerequisite or evidence,
    and nothing that contradicts the status."""
    notes = []
    if state.blocked_by:
        what = ", ".join(state.blocked_by)
        verb = "is" if len(state.blocked_by) == 1 else "are"
        if state.held_back:
            notes.append(
                f"Recorded at maturity {state.reported}; it counts once {what} {verb} in place "
                f"(the model places {what} first), credited {state.current} until then."
            )
        else:
            notes.append(f"The model places {what} first: it cannot be met before then.")
    if state.evidence_discount and state.status != GapStatus.MET:
        ceiling = model.rules.unchecked_maximum
        lost = (
            ""
            if state.held_back
            else (f"Recorded at maturity {state.reported}, credited {state.current}: ")
        )
        notes.append(
            lost
            + "evidence below the model's minimum confidence counts one level lower"
            + (f" and never above {ceiling}" if ceiling is not None else "")
            + (
                ", and an activity needs an outcome or evidence to count above developing"
                if model.rules.unevidenced_activity_maximum is not None
                else ""
            )
            + ". Have it peer reviewed, or add evidence."
        )
    if state.not_counted and state.status != GapStatus.MET:
        notes.append(
            "An asset shared from above is shown but does not count here: this is the "
            "organisation's own duty, or it spreads by learning, not by sharing; it needs a "
            "record of its own."
        )
    notes += _returned(state)
    if state.best is not None and state.best.inherited:
        notes.append(
            "Met through an asset shared by an organisation above this one."
            if state.status == GapStatus.MET
            else "Credited through an asset shared by an organisation above this one, "
            "which is not enough to meet it here."
        )
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


def nearby(
    capability: Capability,
    profile: Profile,
    peers: Sequence[tuple[OrganisationRef, frozenset[str]]],
    peer_types: Mapping[uuid.UUID, OrganisationType | None] | None,
    model: ReferenceModelPublic,
) -> list[OrganisationRef]:
    """Who in the system already meets it. Under sharingFollowsTravel, the system view's rule:
    a local-only capability (an EPR) is offered only from an organisation of the same kind."""
    found = [ref for ref, met in peers if capability.key in met]
    if not model.rules.sharing_follows_travel or capability.travels != Travel.LOCAL_ONLY:
        return found
    types = peer_types or {}
    own = family(profile.organisation_type)
    return [ref for ref in found if same_family(own, family(types.get(ref.id)))]


def analyse(
    profile: Profile,
    model: ReferenceModelPublic,
    *,
    generated_at: datetime,
    peers: Sequence[tuple[OrganisationRef, frozenset[str]]] = (),
    peer_types: Mapping[uuid.UUID, OrganisationType | None] | None = None,
    today: date | None = None,
) -> GapAnalysis:
    """One organisation against the model; ``peers`` are the others in its system (and
    ``peer_types`` their kinds, which sharingFollowsTravel needs). ``today`` (by default the
    day of ``generated_at``) is the day against which plan items and the review are overdue."""
    capabilities = in_scope(model)
    current = states(profile, model)
    gaps = [_gap(c, current[c.key], model) for c in capabilities]
    unmet = {
        c.key: c
        for c in capabilities
        if current[c.key].status not in (GapStatus.MET, GapStatus.NOT_APPLICABLE)
    }
    ranked = ranking.ranked(profile, model, current)
    unmet, whys, effective = ranked.unmet, ranked.whys, ranked.effective
    items = plans.refs(profile.plan_items, today or generated_at.date())
    recommendations = [
        Recommendation(
            rank=position,
            capability_key=key,
            area=unmet[key].area,
            audience=unmet[key].audience,
            title=unmet[key].title,
            status=current[key].status,
            priority_score=ranked.scores[key],
            ranking_score=-effective[key][3],
            getting_started_step=effective[key][1] or None,
            why=whys[key],
            actions=unmet[key].actions,
            national_enabler=unmet[key].national_enabler,
            blocked_by=ranked.blocked[key],
            sources=unmet[key].sources,
            available_in_system=nearby(unmet[key], profile, peers, peer_types, model),
            plan_items=[item for item in items if item.capability_key == key],
        )
        for position, key in enumerate(ranked.order, start=1)
    ]
    credits = _from_returns(capabilities, current)
    return GapAnalysis(
        scope="organisation",
        organisation=profile.organisation,
        reference_model=ReferenceModelRef(version=model.version),
        generated_at=generated_at,
        summary=summary(profile, model, current),
        gaps=gaps,
        recommendations=recommendations,
        getting_started=ranked.started,
        learning_loop=learning_loop(capabilities, current),
        plan=plans.plan(items, ranked.order, model),
        review=plans.review(profile.next_review_due, today or generated_at.date()),
        from_returns=credits,
        returns=_returns_used(profile, credits, today or generated_at.date()),
    )


def _from_returns(
    capabilities: Sequence[Capability], current: Mapping[str, State]
) -> list[ReturnCredit]:
    """Each capability whose credit came from an imported return, with which one."""
    found = []
    for c in capabilities:
        state = current[c.key]
        best = state.best
        if best is None or best.basis is None or not state.applicable:
            continue
        found.append(
            ReturnCredit(
                capability_key=c.key,
                framework=ReturnFramework(best.basis.framework),
                year=best.basis.year,
                origin=best.basis.origin,
                headings=list(best.basis.headings),
                score=best.basis.score,
                level=best.maturity,
                confidence=best.confidence or Confidence.SELF_ASSESSED,
                credited_maturity=state.current,
            )
        )
    return found


# A return older than this many years is flagged: maturity moves, and DMA rounds are yearly.
STALE_AFTER_YEARS = 2


def _returns_used(
    profile: Profile, credits: Sequence[ReturnCredit], today: date
) -> list[ReturnUsed]:
    used = []
    for seen in profile.returns:
        origin = f"{seen.framework} {seen.year}"
        warning = None
        if not seen.crosswalked:
            warning = (
                f"The {origin} return is not credited: this model version has no crosswalk to "
                "its framework."
            )
        elif today.year - seen.year > STALE_AFTER_YEARS:
            warning = (
                f"The {origin} return is more than {STALE_AFTER_YEARS} years old: import a "
                "newer one, or record the capabilities it credits."
            )
        used.append(
            ReturnUsed(
                framework=ReturnFramework(seen.framework),
                year=seen.year,
                origin=origin,
                credits=sum(1 for c in credits if c.origin == origin),
                warning=warning,
            )
        )
    return used
