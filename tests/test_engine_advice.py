"""Model 2026.1 in the engine alone: the advice an expert would sign (no database, no clock)."""

import uuid
from datetime import UTC, datetime

import pytest

from app.analysis import engine
from app.analysis.profile import Claim, Profile
from app.analysis.schemas import GapAnalysis, GapStatus, LinkStatus, OrganisationRef, Strategy
from app.reference.service import shipped_models
from app.vocabulary import ActivityType, Area, CapabilityKind, Confidence, OrganisationType, Travel

MODEL = next(m for m in shipped_models() if m.version == "2026.1")
WHEN = datetime(2026, 1, 1, tzinfo=UTC)
ORG = OrganisationRef(id=uuid.UUID(int=1), name="Example")
BY_KEY = {c.key: c for c in MODEL.capabilities}


def asset(key: str, maturity: int, confidence: Confidence, n: int = 2, **extra: object) -> Claim:
    return Claim(
        key,
        maturity,
        confidence,
        CapabilityKind.ASSET,
        ORG.id,
        uuid.UUID(int=n),
        f"asset {n}",
        **extra,  # type: ignore[arg-type]
    )


def activity(key: str, n: int = 3, **extra: object) -> Claim:
    return Claim(
        key,
        3,
        None,
        CapabilityKind.ACTIVITY,
        ORG.id,
        uuid.UUID(int=n),
        f"activity {n}",
        **extra,  # type: ignore[arg-type]
    )


def run(*claims: Claim, kind: OrganisationType | None = None, **extra: object) -> GapAnalysis:
    profile = Profile(organisation=ORG, claims=claims, organisation_type=kind, **extra)  # type: ignore[arg-type]
    return engine.analyse(profile, MODEL, generated_at=WHEN)


def gap(analysis: GapAnalysis, key: str) -> tuple[GapStatus, int, list[str]]:
    found = next(g for g in analysis.gaps if g.capability_key == key)
    return found.status, found.current_maturity, found.blocked_by


def proven(key: str, n: int) -> Claim:
    return asset(key, 3, Confidence.EVIDENCED, n, evidence_links=1, reviewed=True)


def test_unchecked_activities_no_longer_meet_targets() -> None:
    analysis = run(*(activity(c.key, n) for n, c in enumerate(MODEL.capabilities, start=10)))
    assert analysis.summary.capabilities_met == 0
    assert gap(analysis, "learning-community") == (GapStatus.NEEDS_DEVELOPMENT, 2, [])
    for key in ("service-user-voice", "inclusive-participation", "lhs-evaluation"):
        status, maturity, blocked = gap(analysis, key)
        assert (status, maturity, blocked) == (
            GapStatus.NEEDS_DEVELOPMENT,
            2,
            ["learning-community"],
        ), key
    with_outcome = run(
        activity("learning-community", 3, has_outcome=True),
        activity("service-user-voice", 4, evidence_links=1),
    )
    assert gap(with_outcome, "learning-community")[0] == GapStatus.MET
    assert gap(with_outcome, "service-user-voice")[0] == GapStatus.MET


def test_a_capability_at_target_behind_an_unmet_hard_prerequisite_is_blocked() -> None:
    analysis = run(proven("service-user-voice", 5))
    status, maturity, blocked = gap(analysis, "service-user-voice")
    assert (status, maturity, blocked) == (GapStatus.BLOCKED, 2, ["learning-community"])
    note = next(g.note for g in analysis.gaps if g.capability_key == "service-user-voice")
    assert note is not None
    assert "learning-community" in note
    ranked = [r.capability_key for r in analysis.recommendations]
    assert ranked.index("learning-community") < ranked.index("service-user-voice")


@pytest.mark.parametrize(
    ("claim", "status"),
    [
        (asset("learning-culture", 4, Confidence.SELF_ASSESSED), GapStatus.NEEDS_DEVELOPMENT),
        (asset("learning-culture", 4, Confidence.EVIDENCED), GapStatus.NEEDS_DEVELOPMENT),
        (asset("learning-culture", 3, Confidence.PEER_REVIEWED), GapStatus.NEEDS_DEVELOPMENT),
        (asset("learning-culture", 3, Confidence.PEER_REVIEWED, reviewed=True), GapStatus.MET),
        (asset("learning-culture", 3, Confidence.EVIDENCED, evidence_links=1), GapStatus.MET),
    ],
)
def test_claims_count_only_as_far_as_they_are_proven(claim: Claim, status: GapStatus) -> None:
    found, maturity, _ = gap(run(claim), "learning-culture")
    assert found == status
    if status != GapStatus.MET:
        assert maturity == 2  # self-assessed: one level lower, never above developing


def test_tools_alone_do_not_close_the_learning_cycle() -> None:
    strong = [
        proven(c.key, n)
        for n, c in enumerate(MODEL.capabilities, start=10)
        if c.area in (Area.DATA, Area.TECHNOLOGY)
    ]
    loop = run(*strong, kind=OrganisationType.ACUTE_TRUST).learning_loop
    links = {link.stage.value: link for link in loop.links}
    assert loop.closed is False
    assert links["practice_to_data"].status == LinkStatus.IN_PLACE
    assert links["data_to_knowledge"].status == LinkStatus.IN_PLACE
    closing = links["knowledge_to_practice"]
    assert closing.status == LinkStatus.WEAK
    assert "decision-support-tools" in closing.capabilities_met
    assert "tools alone" in closing.explanation
    assert "learning-community" in closing.explanation
    assert "Better Care" not in loop.cycle
    assert "learning cycle" in loop.cycle
    people = run(*strong, proven("learning-community", 90), kind=OrganisationType.ACUTE_TRUST)
    assert people.learning_loop.closed is True


def test_an_icb_is_not_told_to_build_an_epr_and_no_one_is_told_to_do_a_national_job() -> None:
    icb = run(kind=OrganisationType.ICB)
    assert gap(icb, "digital-infrastructure")[0] == GapStatus.NOT_APPLICABLE
    assert "digital-infrastructure" not in [r.capability_key for r in icb.recommendations]
    national = ("seek longer-term funding", "fund digital maturity", "set national", "regulat")
    for kind in OrganisationType:
        for r in run(kind=kind).recommendations:
            for action in r.actions:
                assert not any(n in action.lower() for n in national), (r.capability_key, action)
    trust = run(kind=OrganisationType.ACUTE_TRUST)
    infrastructure = next(
        r for r in trust.recommendations if r.capability_key == "digital-infrastructure"
    )
    assert infrastructure.national_enabler is not None
    assert infrastructure.national_enabler.source.table == 3
    practice = {g.capability_key: g for g in run(kind=OrganisationType.GP_PRACTICE).gaps}
    ics = {g.capability_key: g for g in run(kind=OrganisationType.ICS).gaps}
    assert practice["evidence-base-contribution"].target_maturity == 1
    assert ics["evidence-base-contribution"].target_maturity == 3


def test_every_table_3_capability_names_its_national_enabler() -> None:
    for c in MODEL.capabilities:
        rows = [s for s in c.sources if s.table == 3]
        if rows:
            assert c.national_enabler is not None, c.key
            assert c.national_enabler.source.rank == rows[0].rank, c.key


def test_an_empty_gp_federation_starts_with_box_11_and_agrees_with_getting_started() -> None:
    analysis = run(kind=OrganisationType.GP_FEDERATION)
    assert analysis.getting_started.next_step == 1
    top = analysis.recommendations[:5]
    assert [r.capability_key for r in top] == [
        "care-improvement-priorities",
        "learning-community",
        "service-user-voice",
        "improvement-ambition",
        "senior-learning-leadership",
    ]
    assert [r.getting_started_step for r in top] == [1, 2, 2, 3, 4]
    assert all(r.why.prerequisite_factor <= 1.3 for r in analysis.recommendations)
    later = analysis.recommendations[5:]
    table4 = [r for r in later if any(s.table == 4 for s in r.sources)]
    others = [r for r in later if r not in table4]
    # Table 4 leads: after the starting steps, no capability without a Table 4 row outranks
    # one with its unlock-free weight above 0.30 (ties broken by Table 3).
    assert table4[0].rank < others[0].rank


def test_once_started_the_first_recommendation_follows_the_next_step() -> None:
    started = run(
        activity("care-improvement-priorities", 5, has_outcome=True),
        kind=OrganisationType.ACUTE_TRUST,
    )
    assert started.getting_started.next_step == 2
    assert started.recommendations[0].capability_key == "learning-community"
    assert started.recommendations[0].getting_started_step == 2


def test_ranking_ties_are_broken_by_table_3() -> None:
    analysis = run(kind=OrganisationType.ACUTE_TRUST)
    scores = [(r.why.weight, r.why.tie_break, r.capability_key) for r in analysis.recommendations]
    interop = next(s for s in scores if s[2] == "interoperable-data-sharing")
    governance = next(s for s in scores if s[2] == "information-governance")
    assert interop[0] == governance[0] == 0.30  # neither has a Table 4 row
    position = {r.capability_key: r.rank for r in analysis.recommendations}
    assert interop[1] > governance[1]
    assert position["interoperable-data-sharing"] < position["information-governance"]


def test_weak_box_11_proxies_no_longer_count() -> None:
    analysis = run(
        asset("lhs-narrative-and-strategy", 2, Confidence.EVIDENCED, evidence_links=1),
        kind=OrganisationType.ACUTE_TRUST,
        assessments=1,
        goals_in_progress=1,
        activity_types=frozenset({ActivityType.IMPROVEMENT_PROJECT}),
    )
    done = {s.step for s in analysis.getting_started.steps if s.done}
    assert done.isdisjoint({1, 3, 6, 7})


def member(n: int, kind: OrganisationType, *claims: Claim) -> Profile:
    ref = OrganisationRef(id=uuid.UUID(int=100 + n), name=f"Member {n}")
    return Profile(organisation=ref, claims=claims, organisation_type=kind)


def test_the_system_view_builds_once_only_what_can_be_shared() -> None:
    analysts = asset("analytics-workforce", 3, Confidence.SELF_ASSESSED, 50)
    members = [
        member(0, OrganisationType.ACUTE_TRUST, analysts, proven("digital-infrastructure", 51)),
        member(1, OrganisationType.MENTAL_HEALTH_TRUST),
        member(2, OrganisationType.GP_FEDERATION, proven("digital-infrastructure", 52)),
        member(3, OrganisationType.LOCAL_AUTHORITY),
        member(4, OrganisationType.PRIMARY_CARE_NETWORK),
    ]
    system = engine.analyse_system(ORG, members, MODEL, generated_at=WHEN)
    recs = {r.capability_key: r for r in system.recommendations}
    for r in system.recommendations:
        travels = BY_KEY[r.capability_key].travels
        assert (r.strategy == Strategy.BUILD_ONCE) == (travels == Travel.SHAREABLE), r
    assert recs["analytics-workforce"].host_candidate == members[0].organisation
    epr = recs["digital-infrastructure"]
    assert epr.strategy == Strategy.SPREAD
    assert members[3].organisation not in epr.spread_from
    # A GP federation's record system is no model for a trust or adult social care.
    assert [o.name for o in epr.spread_from] == ["Member 0"]
    top5 = [r.capability_key for r in system.recommendations[:5]]
    assert "service-user-voice" in top5
    assert "learning-community" in top5


def test_citations_say_whether_the_report_or_the_model_makes_the_link() -> None:
    for c in MODEL.capabilities:
        for s in c.sources:
            assert s.derivation is not None, c.key
            if s.derivation.value == "modelling_decision":
                assert s.note, c.key
    cited = {c.key: {(s.table, s.rank) for s in c.sources if s.table} for c in MODEL.capabilities}
    assert (3, 8) not in cited["decision-support-tools"]
    assert (4, 8) not in cited["learning-community"]
    assert (4, 5) in cited["digital-infrastructure"]
    for key in (
        "professional-networks",
        "leadership-at-all-levels",
        "in-house-research-expertise",
        "care-improvement-priorities",
    ):
        assert key in BY_KEY
    better_care = [c.key for c in MODEL.capabilities if "Better Care Loop" in str(c.model_dump())]
    assert better_care == ["decision-support-tools"]


def test_the_worked_scenarios_of_the_docs() -> None:
    """docs/gap-analysis.md, "Three worked scenarios": the trust and the ICS."""
    data_and_tech = [c for c in MODEL.capabilities if c.area in (Area.DATA, Area.TECHNOLOGY)]
    strong = tuple(proven(c.key, n) for n, c in enumerate(data_and_tech, start=10))
    trust = run(*strong, kind=OrganisationType.ACUTE_TRUST)
    assert [r.capability_key for r in trust.recommendations[:8]] == [
        "care-improvement-priorities",
        "learning-community",
        "service-user-voice",
        "improvement-ambition",
        "senior-learning-leadership",
        "improvement-capability",
        "leadership-at-all-levels",
        "learning-culture",
    ]

    def done(key: str, n: int) -> Claim:
        return activity(key, n, has_outcome=True)

    members = [
        member(0, OrganisationType.ACUTE_TRUST, *strong),
        member(
            1,
            OrganisationType.MENTAL_HEALTH_TRUST,
            done("learning-community", 1),
            done("service-user-voice", 2),
            proven("learning-culture", 3),
            done("care-improvement-priorities", 4),
        ),
        member(2, OrganisationType.GP_FEDERATION),
        member(
            3,
            OrganisationType.LOCAL_AUTHORITY,
            proven("information-governance", 5),
            proven("digital-infrastructure", 6),
        ),
        member(
            4,
            OrganisationType.COMMUNITY_TRUST,
            proven("improvement-capability", 7),
            done("frontline-improvement-support", 8),
            proven("senior-learning-leadership", 9),
        ),
    ]
    system = engine.analyse_system(ORG, members, MODEL, generated_at=WHEN)
    top = [
        (r.capability_key, r.strategy, [o.name for o in r.spread_from])
        for r in system.recommendations[:7]
    ]
    assert top == [
        ("care-improvement-priorities", Strategy.SPREAD, ["Member 1"]),
        ("learning-community", Strategy.SPREAD, ["Member 1"]),
        ("service-user-voice", Strategy.SPREAD, ["Member 1"]),
        ("improvement-ambition", Strategy.EACH_MEMBER, []),
        ("senior-learning-leadership", Strategy.SPREAD, ["Member 4"]),
        ("leadership-at-all-levels", Strategy.EACH_MEMBER, []),
        ("improvement-capability", Strategy.SPREAD, ["Member 4"]),
    ]
