"""How much each claim is worth, and where an organisation stands on each capability.

The one place that credits a claim: the organisation's own records and the aggregated records
of its peers and members (loading.py) both go through ``credited``. The rules come from the
model version (app/reference/rules.py); docs/gap-analysis.md explains them with numbers.
"""

from collections.abc import Mapping, Sequence

from app.analysis.profile import Claim, Profile, State
from app.analysis.schemas import GapStatus
from app.reference.rules import Rules
from app.reference.schemas import Capability, ReferenceModelPublic
from app.vocabulary import (
    ActivityStatus,
    Audience,
    CapabilityKind,
    Confidence,
    OrganisationType,
    Travel,
)

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


def in_scope(model: ReferenceModelPublic) -> list[Capability]:
    """Capabilities an organisation or system is assessed on (policy ones are for governments)."""
    return [c for c in model.capabilities if c.audience != Audience.POLICY]


def confidence_of(claim: Claim, rules: Rules) -> Confidence | None:
    """A claim's confidence once its proof is checked: 'evidenced' needs a link, and
    'peer_reviewed' a named reviewer, or they count as the level they can show."""
    confidence = claim.confidence
    if confidence is None or not rules.checked_claims_need_proof:
        return confidence
    if confidence == Confidence.EVIDENCED and claim.evidence_links == 0:
        confidence = Confidence.PEER_REVIEWED
    if confidence == Confidence.PEER_REVIEWED and not claim.reviewed:
        confidence = Confidence.SELF_ASSESSED
    return confidence


def recorded(claim: Claim, capability: Capability, rules: Rules) -> int:
    """The maturity a claim shows for this capability, before any confidence discount."""
    maturity = claim.maturity
    if claim.kind == CapabilityKind.ACTIVITY:
        if capability.kind == CapabilityKind.ASSET:
            maturity = min(maturity, ACTIVITY_TOWARDS_ASSET)
        ceiling = rules.unevidenced_activity_maximum
        if ceiling is not None and not (claim.has_outcome or claim.evidence_links):
            maturity = min(maturity, ceiling)
    return maturity


def credited(claim: Claim, capability: Capability, model: ReferenceModelPublic) -> int:
    """Evidence below the model's minimum confidence counts one level lower (and, when the
    model says so, never above a ceiling)."""
    rules = model.rules
    maturity = recorded(claim, capability, rules)
    confidence = confidence_of(claim, rules)
    if confidence is not None and confidence.rank < model.minimum_confidence.rank:
        maturity = max(0, maturity - 1)
        if rules.unchecked_maximum is not None:
            maturity = min(maturity, rules.unchecked_maximum)
    return maturity


def counts_here(claim: Claim, capability: Capability, rules: Rules) -> bool:
    """Whether a claim counts for this organisation: an asset shared from above satisfies
    only what can be shared, and never an organisation's own duty (sharingFollowsTravel)."""
    if not (claim.inherited and rules.sharing_follows_travel):
        return True
    return capability.travels == Travel.SHAREABLE and not capability.own_duty


def _status(current: int, target: int) -> GapStatus:
    if current >= target:
        return GapStatus.MET
    return GapStatus.MISSING if current == 0 else GapStatus.NEEDS_DEVELOPMENT


def state_of(
    capability: Capability,
    claims: Sequence[Claim],
    model: ReferenceModelPublic,
    organisation_type: OrganisationType | None = None,
    *,
    declared_not_applicable: bool = False,
) -> State:
    if not capability.applies(organisation_type) or declared_not_applicable:
        return State(0, 0, None, GapStatus.NOT_APPLICABLE, tuple(claims), target=0)
    ignored = tuple(c for c in claims if not counts_here(c, capability, model.rules))
    claims = [c for c in claims if c not in ignored]
    target = capability.target_for(organisation_type)
    if not claims:
        return State(0, 0, None, _status(0, target), target=target, not_counted=ignored)

    def order(claim: Claim) -> tuple[int, int, int, str, int]:
        confidence = confidence_of(claim, model.rules)
        rank = confidence.rank if confidence is not None else -1
        identity = claim.id.int if claim.id is not None else -1
        credit = credited(claim, capability, model)
        return (credit, recorded(claim, capability, model.rules), rank, claim.name, identity)

    ordered = sorted(claims, key=order, reverse=True)
    best = ordered[0]
    current = credited(best, capability, model)
    reported = max(recorded(c, capability, model.rules) for c in claims)
    return State(
        current,
        reported,
        best,
        _status(current, target),
        tuple(ordered),
        target,
        not_counted=ignored,
    )


def declared_not_applicable(capability: Capability, profile: Profile) -> bool:
    """A self-assessment said "not applicable here", and the model allows that answer for the
    organisation's type (a model that does not allow it keeps the capability in the score)."""
    allowed = capability.not_applicable_for
    return (
        capability.key in profile.declared_not_applicable
        and allowed is not None
        and profile.organisation_type in allowed
    )


def states(profile: Profile, model: ReferenceModelPublic) -> dict[str, State]:
    """Every in-scope capability's state; with hard prerequisites on, one whose prerequisite
    is unmet is never met (``blocked``, capped one level below target)."""
    by_key: dict[str, list[Claim]] = {}
    for claim in profile.claims:
        by_key.setdefault(claim.capability_key, []).append(claim)
    capabilities = {c.key: c for c in in_scope(model)}
    found = {
        key: state_of(
            c,
            by_key.get(key, []),
            model,
            profile.organisation_type,
            declared_not_applicable=declared_not_applicable(c, profile),
        )
        for key, c in capabilities.items()
    }
    if not model.rules.hard_prerequisites:
        return found
    settled: dict[str, State] = {}

    def settle(key: str) -> State:
        if key in settled:
            return settled[key]
        state = found[key]
        blockers = tuple(
            p
            for p in capabilities[key].depends_on
            if p in capabilities
            and settle(p).status not in (GapStatus.MET, GapStatus.NOT_APPLICABLE)
        )
        if blockers and state.applicable:
            current = min(state.current, state.target - 1)
            status = (
                GapStatus.BLOCKED
                if state.status == GapStatus.MET
                else _status(current, state.target)
            )
            state = State(
                current,
                state.reported,
                state.best,
                status,
                state.claims,
                state.target,
                blockers,
                held_back=state.current - current,
                not_counted=state.not_counted,
            )
        settled[key] = state
        return state

    return {key: settle(key) for key in capabilities}


def met_keys(profile: Profile, model: ReferenceModelPublic) -> frozenset[str]:
    return frozenset(k for k, s in states(profile, model).items() if s.status == GapStatus.MET)
