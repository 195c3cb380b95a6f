"""The order of one organisation's recommendations: each unmet capability's score, its Box 11
step while the organisation has not taken it, and its prerequisites. The engine explains the
order; the system view asks each member's top five of it."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.analysis.credit import in_scope
from app.analysis.profile import Profile, State
from app.analysis.schemas import GapStatus, GettingStarted, Why
from app.analysis.scoring import (
    Order,
    dependents,
    effective_orders,
    lead_weight,
    prerequisite_factor,
    rank,
)
from app.analysis.steps import getting_started, starting_steps
from app.reference.rules import Ranking
from app.reference.schemas import Capability, ReferenceModelPublic


@dataclass(frozen=True)
class Links:
    """The model's capabilities and, for each, those that need it (through hard prerequisites;
    ``enabling``: through enabling links too). The same for every organisation: the system
    view works them out once for all its members."""

    capabilities: Sequence[Capability]
    needed_by: dict[str, set[str]]
    enabling: dict[str, set[str]]

    @classmethod
    def of(cls, model: ReferenceModelPublic) -> "Links":
        capabilities = in_scope(model)
        return cls(capabilities, dependents(capabilities), dependents(capabilities, soft=True))


def _whys(
    enabling: Mapping[str, set[str]],
    unmet: Mapping[str, Capability],
    current: Mapping[str, State],
    model: ReferenceModelPublic,
) -> dict[str, Why]:
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
            confidence_discount=(
                state.evidence_discount if model.rules.notes_tell_cause else state.discount
            ),
            known_gap=model.rules.known_gaps_first and state.known_gap,
            gap=gap,
            gap_factor=round(gap / state.target, 4),
            unlocks=unlocks,
            prerequisite_factor=prerequisite_factor(unlocks, model.rules),
        )
    return whys


def _steps_first(
    unmet: Mapping[str, Capability],
    started: GettingStarted,
    current: Mapping[str, State],
    model: ReferenceModelPublic,
) -> dict[str, int]:
    """Under organisation_first: the Box 11 step (1-4, not yet taken) each capability answers.
    Under knownGapsFirst, a step recorded at its target that lacks only proof (a board sponsor
    the organisation names, self-assessed) does not lead the advice: the step stays open, and
    the capability ranks by its score, as a claim that lacks only proof is no known gap."""
    if model.rules.ranking != Ranking.ORGANISATION_FIRST:
        return {}
    open_steps = starting_steps(started)
    found = {}
    for key, c in unmet.items():
        if model.rules.known_gaps_first and current[key].lacks_only_proof:
            continue
        cited = [s.box11_step for s in c.sources if s.box11_step in open_steps]
        if cited:
            found[key] = min(step for step in cited if step is not None)
    return found


@dataclass(frozen=True)
class Ranked:
    """The unmet capabilities in the order they are recommended, and what placed them there."""

    unmet: dict[str, Capability]
    whys: dict[str, Why]
    scores: dict[str, float]
    started: GettingStarted
    effective: dict[str, Order]
    blocked: dict[str, list[str]]
    order: list[str]


def ranked(
    profile: Profile,
    model: ReferenceModelPublic,
    current: Mapping[str, State],
    links: Links | None = None,
) -> Ranked:
    links = links or Links.of(model)
    capabilities = links.capabilities
    unmet = {
        c.key: c
        for c in capabilities
        if current[c.key].status not in (GapStatus.MET, GapStatus.NOT_APPLICABLE)
    }
    whys = _whys(links.enabling, unmet, current, model)
    scores = {
        k: round(100 * w.weight * w.gap_factor * w.prerequisite_factor, 2) for k, w in whys.items()
    }
    started = getting_started(profile, capabilities, current, model.rules)
    step_of = _steps_first(unmet, started, current, model)
    orders: dict[str, Order] = {
        k: (
            0 if k in step_of else 1,
            step_of.get(k, 0),
            0 if whys[k].known_gap else 1,
            -scores[k],
            -whys[k].tie_break,
        )
        for k in unmet
    }
    blocked = {k: [p for p in unmet[k].depends_on if p in unmet] for k in unmet}
    effective = effective_orders(orders, links.needed_by)
    order = rank(effective, blocked)
    return Ranked(unmet, whys, scores, started, effective, blocked, order)


def top(
    profile: Profile,
    model: ReferenceModelPublic,
    current: Mapping[str, State],
    n: int,
    links: Links,
) -> list[str]:
    """The capabilities of an organisation's first ``n`` recommendations, in rank order."""
    return ranked(profile, model, current, links).order[:n]
