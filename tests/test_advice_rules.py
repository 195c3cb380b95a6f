"""The rules of "advice an expert signs" (model 2026.2), one by one in the pure engine, and
2026.1 keeping its meaning (every new rule flag off)."""

import uuid
from datetime import UTC, datetime

from app.analysis import engine
from app.analysis.profile import Profile
from app.analysis.schemas import GapStatus, OrganisationRef, Strategy
from app.reference.rules import GettingStartedRules
from app.reference.service import shipped_models
from app.vocabulary import OrganisationType
from tests.advice_profiles import ORG_ID, done, inherited, proven

NEW = next(m for m in shipped_models() if m.version == "2026.2")
OLD = next(m for m in shipped_models() if m.version == "2026.1")
WHEN = datetime(2026, 1, 1, tzinfo=UTC)
_T = OrganisationType


def run(kind: OrganisationType, *claims, model=NEW, **extra):  # type: ignore[no-untyped-def]
    profile = Profile(
        organisation=OrganisationRef(id=ORG_ID, name="Org"),
        claims=claims,
        organisation_type=kind,
        **extra,
    )
    return engine.analyse(profile, model, generated_at=WHEN, **{})


def test_2026_1_keeps_its_rules() -> None:
    rules = OLD.rules
    assert rules.getting_started == GettingStartedRules.STRICT
    assert not (rules.known_gaps_first)
    assert not (rules.notes_tell_cause)
    assert not (rules.sharing_follows_travel)
    assert not (rules.hosts_by_fitness)
    assert not (rules.direct_weights_lead)


def test_rule_1_an_honest_weakness_never_ranks_below_silence() -> None:
    steps = [
        done(k, n)
        for n, k in enumerate(
            (
                "care-improvement-priorities",
                "learning-community",
                "service-user-voice",
                "improvement-ambition",
            ),
            10,
        )
    ]
    weak = proven("technology-evaluation", 20, maturity=1)
    for model, first in ((NEW, True), (OLD, False)):
        analysis = run(
            _T.ACUTE_TRUST, *steps, proven("senior-learning-leadership", 30), weak, model=model
        )
        ranked = [r.capability_key for r in analysis.recommendations]
        silent = [k for k in ranked if not any(c.capability_key == k for c in (*steps, weak))]
        assert (ranked.index("technology-evaluation") < ranked.index(silent[0])) is first
    rec = next(r for r in analysis.recommendations if r.capability_key == "technology-evaluation")
    assert rec.why.known_gap is False  # 2026.1 says nothing of known gaps


def test_rule_2_a_step_is_done_exactly_when_its_capabilities_are_met() -> None:
    analysts = done("analyst-community-of-practice", 10)
    analysis = run(_T.ACUTE_TRUST, analysts, running_learning_communities=1, improvement_goals=1)
    steps = {s.step: s for s in analysis.getting_started.steps}
    assert steps[1].done is False
    assert steps[2].done is False
    gaps = {g.capability_key: g for g in analysis.gaps}
    for _step, keys in (
        (1, ["care-improvement-priorities"]),
        (2, ["learning-community", "service-user-voice"]),
    ):
        assert all(gaps[k].status != GapStatus.MET for k in keys)
    old = {
        s.step: s
        for s in run(
            _T.ACUTE_TRUST, analysts, model=OLD, running_learning_communities=1, improvement_goals=1
        ).getting_started.steps
    }
    assert old[1].done
    assert old[2].done


def test_rule_3_notes_tell_the_real_cause() -> None:
    analysis = run(
        _T.ACUTE_TRUST,
        done("service-user-voice", 10),
        inherited("learning-culture", 11, maturity=2),
    )
    gaps = {g.capability_key: g for g in analysis.gaps}
    voice = gaps["service-user-voice"]
    assert voice.status == GapStatus.BLOCKED
    assert "counts once learning-community is in place" in (voice.note or "")
    assert "peer reviewed" not in (voice.note or "")
    rec = next(r for r in analysis.recommendations if r.capability_key == "service-user-voice")
    assert rec.why.confidence_discount == 0


def test_rule_4_what_travels_travels_the_same_way() -> None:
    analysis = run(
        _T.ACUTE_TRUST,
        inherited("information-governance", 10),
        inherited("data-platform", 11),
        inherited("learning-culture", 12),
    )
    gaps = {g.capability_key: g.status for g in analysis.gaps}
    assert gaps["data-platform"] == GapStatus.MET  # shareable
    assert gaps["information-governance"] == GapStatus.MISSING  # its own duty
    assert gaps["learning-culture"] == GapStatus.MISSING  # spreads by learning, not by sharing
    practice = OrganisationRef(id=uuid.UUID(int=77), name="Practice")
    trust = OrganisationRef(id=uuid.UUID(int=78), name="Trust")
    peers = [
        (practice, frozenset({"digital-infrastructure"})),
        (trust, frozenset({"digital-infrastructure"})),
    ]
    profile = Profile(
        organisation=OrganisationRef(id=ORG_ID, name="Community"),
        claims=(),
        organisation_type=_T.COMMUNITY_TRUST,
    )
    found = engine.analyse(
        profile,
        NEW,
        generated_at=WHEN,
        peers=peers,
        peer_types={practice.id: _T.GP_PRACTICE, trust.id: _T.ACUTE_TRUST},
    )
    epr = next(r for r in found.recommendations if r.capability_key == "digital-infrastructure")
    assert epr.available_in_system == [trust]


def member(n: int, kind: OrganisationType, *claims) -> Profile:  # type: ignore[no-untyped-def]
    return Profile(
        organisation=OrganisationRef(id=uuid.UUID(int=200 - n), name=f"{chr(65 + n)} member"),
        claims=claims,
        organisation_type=kind,
    )


def test_rule_5_hosts_make_sense() -> None:
    members = [
        member(0, _T.GP_FEDERATION, proven("improvement-incentives", 10, maturity=2)),
        member(1, _T.ACUTE_TRUST, proven("analytics-workforce", 11)),
        member(2, _T.MENTAL_HEALTH_TRUST, proven("analytics-workforce", 12)),
    ]
    icb = member(3, _T.ICB)
    system = engine.analyse_system(
        icb.organisation, members, NEW, generated_at=WHEN, root_profile=icb
    )
    recs = {r.capability_key: r for r in system.recommendations}
    incentives = recs["improvement-incentives"]
    assert incentives.strategy == Strategy.BUILD_ONCE
    assert incentives.host_candidate is None or incentives.host_candidate == icb.organisation
    analysts = recs["analytics-workforce"]
    # A tie on checked evidence is said, not broken by name.
    assert "agree between you" in analysts.explanation
    no_icb = engine.analyse_system(members[1].organisation, members, NEW, generated_at=WHEN)
    lead = next(r for r in no_icb.recommendations if r.capability_key == "improvement-incentives")
    assert lead.host_candidate is None
    # Said in the words a person reads, not the API's codes.
    assert "it needs an integrated care board or integrated care system" in lead.explanation
    assert "icb" not in lead.explanation
    assert "should lead" in lead.explanation


def test_rule_7_the_models_own_choices_stay_visible_and_small() -> None:
    by_key = {c.key: c for c in NEW.capabilities}
    assert by_key["leadership-at-all-levels"].weight == 0.30
    row5 = [
        (c.key, s.derivation.value if s.derivation else None)
        for c in NEW.capabilities
        for s in c.sources
        if (s.table, s.rank) == (4, 5)
    ]
    assert len(row5) == 4
    assert {d for _, d in row5} == {"modelling_decision"}
    for key, rec in (
        ("analyst-community-of-practice", 3),
        ("digital-skills", 2),
        ("decision-support-tools", 2),
    ):
        enabler = by_key[key].national_enabler
        assert enabler is not None, key
        assert enabler.source.recommendation == rec
    readiness = by_key["improvement-capability"].national_enabler
    assert readiness is not None
    assert "does not exist yet" in readiness.action
    assert "the model's own" in NEW.description
    empty = run(_T.ACUTE_TRUST)
    lead = next(r for r in empty.recommendations if r.capability_key == "leadership-at-all-levels")
    assert lead.why.weight == 0.30
    assert lead.rank > 5


def test_rule_8_what_the_source_asks_for_is_in_the_model() -> None:
    by_key = {c.key: c for c in NEW.capabilities}
    assert [s.recommendation for s in by_key["health-inequalities"].sources] == [1]
    assert [s.recommendation for s in by_key["embedding-central-changes"].sources] == [5]
    assert "health-inequalities" not in {c.key for c in OLD.capabilities}
