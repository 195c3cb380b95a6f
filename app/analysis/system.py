"""The system view: roll an ICS's or network's members up, capability by capability, and say
how to close each gap: build a shareable capability once (hosted by the member best placed),
spread one that travels by learning from the members who have it, or have each member build
a local-only one (learning from members of the same kind).
"""

from collections.abc import Sequence
from datetime import date, datetime

from app.analysis import plans, ranking
from app.analysis.credit import in_scope, states
from app.analysis.plan_schemas import TopFivePlanned
from app.analysis.profile import Profile, State
from app.analysis.schemas import (
    CapabilityCoverage,
    GapStatus,
    OrganisationRef,
    ReferenceModelRef,
    Strategy,
    SystemGapAnalysis,
    SystemMember,
    SystemRecommendation,
    SystemSummary,
)
from app.analysis.scoring import (
    BUCKETS,
    MODERATED,
    QUESTIONNAIRE,
    Order,
    dependents,
    effective_orders,
    lead_weight,
    points_by_confidence,
    points_from_questionnaire,
    prerequisite_factor,
    provenance,
    rank,
    share,
)
from app.reference.rules import Ranking
from app.reference.schemas import Capability, ReferenceModelPublic
from app.vocabulary import ORGANISATION_TYPE_NAMES, OrganisationType, Travel

BUILD_ONCE_BELOW = 0.25
# Box 11 steps 1-4 lead the system's list while fewer than half the members have taken them.
STARTING_COVERAGE_BELOW = 0.5
_T = OrganisationType
FAMILIES = {
    _T.TRUST: "trust",
    _T.ACUTE_TRUST: "trust",
    _T.MENTAL_HEALTH_TRUST: "trust",
    _T.COMMUNITY_TRUST: "trust",
    _T.AMBULANCE_TRUST: "trust",
    _T.GP_PRACTICE: "primary care",
    _T.PRIMARY_CARE_NETWORK: "primary care",
    _T.GP_FEDERATION: "primary care",
    _T.ICB: "system",
    _T.ICS: "system",
    _T.NETWORK: "system",
    _T.LOCAL_AUTHORITY: "local authority",
    _T.VOLUNTARY_SECTOR: "voluntary sector",
}

Member = tuple[Profile, dict[str, State]]
# What is never recommended to a member.
_SETTLED = frozenset({GapStatus.MET, GapStatus.NOT_APPLICABLE})


def family(kind: OrganisationType | None) -> str | None:
    """The kind of organisation that can learn a local-only capability from another."""
    return None if kind is None else FAMILIES.get(kind, kind.value)


def same_family(one: str | None, other: str | None) -> bool:
    """Unknown kinds (no type recorded) are not kept apart."""
    return one is None or other is None or one == other


def _family(profile: Profile) -> str | None:
    return family(profile.organisation_type)


def _host(capability: Capability, members: Sequence[Member]) -> OrganisationRef | None:
    """The member furthest along on the capability, then on what it needs; none when no
    member has started on either."""
    needs = capability.depends_on + capability.enabled_by

    def strength(member: Member) -> tuple[int, int]:
        _, s = member
        return (s[capability.key].current, sum(s[k].current for k in needs if k in s))

    candidates = sorted(
        (m for m in members if m[1][capability.key].applicable),
        key=lambda m: (
            *(-v for v in strength(m)),
            m[0].organisation.name,
            str(m[0].organisation.id),
        ),
    )
    if not candidates or strength(candidates[0]) == (0, 0):
        return None
    return candidates[0][0].organisation


def _fit_host(
    capability: Capability, candidates: Sequence[Member]
) -> tuple[OrganisationRef | None, str]:
    """hostsByFitness: among the members fit to host it (its ``hosts`` types, else any it
    applies to), the one furthest along on credited (checked) maturity, then on the
    confidence and proof of its best claim, then on what it needs. Never by name: a tie is
    said, and the first by id is named. When no member fits, say who should lead instead."""
    fit = [
        m
        for m in candidates
        if m[1][capability.key].applicable
        and (capability.hosts is None or m[0].organisation_type in capability.hosts)
    ]
    if not fit:
        kinds = " or ".join(ORGANISATION_TYPE_NAMES[k] for k in capability.hosts or [])
        article = "an" if kinds[:1] in {"a", "e", "i", "o", "u"} else "a"
        return None, (
            f"no member is fit to host it (it needs {article} {kinds}), so the {kinds} that "
            "serves this system should lead it"
        )
    needs = capability.depends_on + capability.enabled_by

    def strength(member: Member) -> tuple[int, int, int, int]:
        _, s = member
        state = s[capability.key]
        best = state.best
        confidence = best.confidence.rank if best is not None and best.confidence else -1
        proof = best.evidence_links if best is not None else 0
        return (state.current, confidence, proof, sum(s[k].current for k in needs if k in s))

    ranked = sorted(fit, key=lambda m: (*(-v for v in strength(m)), str(m[0].organisation.id)))
    best = ranked[0]
    if strength(best)[0] == 0 and strength(best)[3] == 0:
        names = ", ".join(m[0].organisation.name for m in fit[:5])
        return None, f"no member has started on it; those fit to host it: {names}"
    tied = [m[0].organisation.name for m in ranked[1:] if strength(m) == strength(best)]
    reason = f"{best[0].organisation.name} is furthest along on checked evidence and could host it"
    if tied:
        reason += f" (as far along as {', '.join(tied)}: agree between you)"
    return best[0].organisation, reason


def _strategy(
    capability: Capability,
    cov: CapabilityCoverage,
    members: Sequence[Member],
    model: ReferenceModelPublic,
    hosts: Sequence[Member],
) -> tuple[Strategy, list[OrganisationRef], OrganisationRef | None, str]:
    meeting, total = cov.members_meeting, cov.members_total
    if capability.travels is None:  # models before 2026.1 say nothing of how it travels
        if cov.coverage < BUILD_ONCE_BELOW:
            return (
                Strategy.BUILD_ONCE,
                [],
                None,
                (
                    f"Missing almost everywhere ({meeting} of {total} members meet it): build it "
                    "once for the system, e.g. as an asset shared with members."
                ),
            )
        return (
            Strategy.SPREAD,
            cov.meeting,
            None,
            (
                f"Met by {meeting} of {total} members: spread it from them to the rest rather than "
                "building it again."
            ),
        )
    # An organisation's own duty (its own data-security return, say) is not built once for the
    # system under sharingFollowsTravel: the organisation view gives a shared one no credit, so
    # the system view must not advise sharing it either.
    own_duty = model.rules.sharing_follows_travel and capability.own_duty
    if capability.travels == Travel.SHAREABLE and not own_duty:
        if model.rules.hosts_by_fitness:
            host, where = _fit_host(capability, hosts)
        else:
            host = _host(capability, members)
            where = (
                f"{host.name} is furthest along and could host it"
                if host
                else ("no member has started on it, so agree who hosts it")
            )
        return (
            Strategy.BUILD_ONCE,
            [],
            host,
            (
                f"Shareable, and met by {meeting} of {total} members: build it once for the "
                f"system and share it with every member; {where}."
            ),
        )
    if meeting == 0:
        return (
            Strategy.EACH_MEMBER,
            [],
            None,
            (
                f"No member meets it yet, and it cannot be shared: each of the {total} members "
                "builds its own; learn together as you go."
            ),
        )
    if capability.travels == Travel.LOCAL_ONLY:
        states_ = [(p, s[capability.key]) for p, s in members if s[capability.key].applicable]
        lacking = {_family(p) for p, s in states_ if s.status != GapStatus.MET}
        teachers = [
            p.organisation
            for p, s in states_
            if s.status == GapStatus.MET
            and (_family(p) in lacking or None in lacking | {_family(p)})
        ]
        return (
            Strategy.SPREAD,
            teachers,
            None,
            (
                f"Local to each member (it cannot be shared), met by {meeting} of {total}: the "
                "others build their own, learning how from members of the same kind."
            ),
        )
    return (
        Strategy.SPREAD,
        cov.meeting,
        None,
        (
            f"Spreads by learning, and {meeting} of {total} members meet it: spread it from them "
            "to the rest rather than building it again."
        ),
    )


def _coverage(capability: Capability, members: Sequence[Member]) -> CapabilityCoverage:
    applies = [(p, s) for p, s in members if s[capability.key].applicable]
    meeting = [p.organisation for p, s in applies if s[capability.key].status == GapStatus.MET]
    not_meeting = [p.organisation for p, s in applies if s[capability.key].status != GapStatus.MET]
    return CapabilityCoverage(
        capability_key=capability.key,
        area=capability.area,
        title=capability.title,
        members_meeting=len(meeting),
        members_total=len(applies),
        coverage=round(len(meeting) / len(applies), 4) if applies else 0.0,
        meeting=meeting,
        not_meeting=not_meeting,
    )


def _starting_step(capability: Capability, coverage: float, model: ReferenceModelPublic) -> int:
    if model.rules.ranking != Ranking.ORGANISATION_FIRST or coverage >= STARTING_COVERAGE_BELOW:
        return 0
    steps = [s.box11_step for s in capability.sources if s.box11_step is not None]
    return min((step for step in steps if step <= 4), default=0)


def analyse_system(
    root: OrganisationRef,
    members: Sequence[Profile],
    model: ReferenceModelPublic,
    *,
    generated_at: datetime,
    root_profile: Profile | None = None,
    today: date | None = None,
) -> SystemGapAnalysis:
    """Roll a system's members up: who meets what, and how to close each gap. Under
    hostsByFitness the system's own organisation (``root_profile``: an ICB, say) is a host
    candidate too, though not a member. ``today`` (by default the day of ``generated_at``)
    is the day against which plan items are overdue."""
    member_states: list[Member] = [(p, states(p, model)) for p in members]
    hosts = list(member_states)
    if root_profile is not None and model.rules.hosts_by_fitness:
        hosts.append((root_profile, states(root_profile, model)))
    capabilities = [
        c for c in in_scope(model) if any(s[c.key].applicable for _, s in member_states)
    ]
    coverage = [_coverage(c, member_states) for c in capabilities]
    by_key = {c.key: c for c in capabilities}
    open_keys = {cov.capability_key: cov for cov in coverage if cov.coverage < 1}
    enabling = dependents(capabilities, soft=True)
    factors: dict[str, tuple[int, float]] = {}
    scores: dict[str, float] = {}
    orders: dict[str, Order] = {}
    for key, cov in open_keys.items():
        unlocks = len(enabling[key] & open_keys.keys())
        factor = prerequisite_factor(unlocks, model.rules)
        weight, tie_break = lead_weight(by_key[key], model.rules)
        factors[key] = (unlocks, factor)
        scores[key] = round(100 * weight * (1 - cov.coverage) * factor, 2)
        step = _starting_step(by_key[key], cov.coverage, model)
        orders[key] = (0 if step else 1, step, 1, -scores[key], -tie_break)
    blocked = {k: [p for p in by_key[k].depends_on if p in open_keys] for k in open_keys}
    effective = effective_orders(orders, dependents(capabilities))
    recommendations = []
    for position, key in enumerate(rank(effective, blocked), start=1):
        cov = open_keys[key]
        strategy, spread_from, host, explanation = _strategy(
            by_key[key], cov, member_states, model, hosts
        )
        recommendations.append(
            SystemRecommendation(
                rank=position,
                capability_key=key,
                area=cov.area,
                title=cov.title,
                strategy=strategy,
                travels=by_key[key].travels,
                host_candidate=host,
                priority_score=scores[key],
                ranking_score=-effective[key][3],
                getting_started_step=effective[key][1] or None,
                coverage=cov.coverage,
                weight=lead_weight(by_key[key], model.rules)[0],
                unlocks=factors[key][0],
                prerequisite_factor=factors[key][1],
                explanation=explanation,
                spread_from=spread_from,
                blocked_by=blocked[key],
                actions=by_key[key].actions,
            )
        )
    result = _result(
        root, model, generated_at, member_states, capabilities, coverage, recommendations
    )
    day = today or generated_at.date()
    return result.model_copy(
        update={
            "members": _members(member_states, capabilities, model),
            "duplicated_effort": plans.duplicated_effort(recommendations, members, day),
        }
    )


def _members(
    member_states: Sequence[Member],
    capabilities: Sequence[Capability],
    model: ReferenceModelPublic,
) -> list[SystemMember]:
    """Each member's score and how much of its own top five it has planned. The top five is
    ranked from what the roll-up reads of the member (its claims), as the member's own
    analysis ranks them; only for a member with something planned (ranking costs some 4 ms a
    member, and a member that plans nothing has planned none of its top five, whatever they
    are)."""
    links = ranking.Links.of(model)
    rows = []
    for p, s in member_states:
        if plans.planned_keys(p.plan_items):
            top = plans.top_five_planned(p.plan_items, ranking.top(p, model, s, plans.TOP, links))
        else:
            unmet = sum(s[c.key].status not in _SETTLED for c in links.capabilities)
            top = TopFivePlanned(planned=0, of=min(plans.TOP, unmet))
        rows.append(
            SystemMember(
                organisation=p.organisation,
                overall_score=share(capabilities, s),
                top_five_planned=top,
            )
        )
    return rows


def _result(
    root: OrganisationRef,
    model: ReferenceModelPublic,
    generated_at: datetime,
    member_states: Sequence[Member],
    capabilities: Sequence[Capability],
    coverage: list[CapabilityCoverage],
    recommendations: list[SystemRecommendation],
) -> SystemGapAnalysis:
    total = len(member_states)
    member_scores = [share(capabilities, s) for _, s in member_states]
    overall = round(sum(member_scores) / total, 1) if total else 0.0
    # The mean of the members' breakdowns, as the score is the mean of their scores.
    member_points = [points_by_confidence(capabilities, s, model.rules) for _, s in member_states]
    mean_points = {
        bucket: sum(p[bucket] for p in member_points) / total if total else 0.0
        for bucket in BUCKETS
    }
    member_questionnaire = [points_from_questionnaire(capabilities, s) for _, s in member_states]
    mean_questionnaire = {
        part: sum(p[part] for p in member_questionnaire) / total if total else 0.0
        for part in (QUESTIONNAIRE, MODERATED)
    }
    return SystemGapAnalysis(
        scope="system",
        organisation=root,
        reference_model=ReferenceModelRef(version=model.version),
        generated_at=generated_at,
        summary=SystemSummary(
            members=total,
            overall_score=overall,
            capabilities_met_everywhere=sum(1 for cov in coverage if cov.coverage == 1),
            capabilities_total=len(capabilities),
            provenance=provenance(mean_points, overall, mean_questionnaire),
        ),
        capabilities=coverage,
        recommendations=recommendations,
    )
