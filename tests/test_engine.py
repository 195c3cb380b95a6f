"""The gap-analysis engine on its own: table-driven, no database, no clock."""

import random
import uuid
from datetime import UTC, datetime

import pytest

from app.analysis import engine
from app.analysis.profile import Claim, Profile
from app.analysis.schemas import GapStatus, LinkStatus, OrganisationRef, Strategy
from app.reference.schemas import ReferenceModelInput, ReferenceModelPublic, to_public
from app.reference.service import shipped_models
from app.vocabulary import ActivityStatus, ActivityType, Area, CapabilityKind, Confidence

MODEL = shipped_models()[0]
WHEN = datetime(2024, 1, 1, tzinfo=UTC)
ORG = OrganisationRef(id=uuid.UUID(int=1), name="Example Trust")


def asset(key: str, maturity: int, confidence: Confidence, n: int = 2) -> Claim:
    return Claim(
        key, maturity, confidence, CapabilityKind.ASSET, ORG.id, uuid.UUID(int=n), f"asset {n}"
    )


def profile(*claims: Claim, **extra: object) -> Profile:
    return Profile(organisation=ORG, claims=claims, **extra)  # type: ignore[arg-type]


def recommended(claims: tuple[Claim, ...]) -> list[str]:
    return [
        r.capability_key
        for r in engine.analyse(profile(*claims), MODEL, generated_at=WHEN).recommendations
    ]


def test_an_empty_map_starts_with_the_highest_weighted_foundations() -> None:
    analysis = engine.analyse(profile(), MODEL, generated_at=WHEN)
    first = analysis.recommendations[0]
    assert first.capability_key == "digital-infrastructure"
    assert first.blocked_by == []
    by_key = {c.key: c for c in MODEL.capabilities}
    # Foundations (nothing to wait for) lead, in weight-and-unlock order.
    assert [r.capability_key for r in analysis.recommendations[:2]] == [
        "digital-infrastructure",
        "improvement-capability",
    ]
    assert all(not by_key[r.capability_key].depends_on for r in analysis.recommendations[:2])
    assert len(analysis.recommendations) == len(MODEL.capabilities)
    assert analysis.summary.overall_score == 0
    assert analysis.getting_started.next_step == 1
    assert analysis.learning_loop.closed is False
    assert {link.status for link in analysis.learning_loop.links} == {LinkStatus.BROKEN}


@pytest.mark.parametrize(
    ("claims", "status", "recommended_again"),
    [
        ((asset("data-platform", 3, Confidence.PEER_REVIEWED),), GapStatus.MET, False),
        ((asset("data-platform", 3, Confidence.EVIDENCED),), GapStatus.MET, False),
        ((asset("data-platform", 4, Confidence.SELF_ASSESSED),), GapStatus.MET, False),
        ((asset("data-platform", 3, Confidence.SELF_ASSESSED),), GapStatus.NEEDS_DEVELOPMENT, True),
        ((asset("data-platform", 2, Confidence.EVIDENCED),), GapStatus.NEEDS_DEVELOPMENT, True),
        ((asset("data-platform", 1, Confidence.SELF_ASSESSED),), GapStatus.MISSING, True),
        ((asset("data-platform", 0, Confidence.EVIDENCED),), GapStatus.MISSING, True),
        (
            (
                asset("data-platform", 2, Confidence.EVIDENCED, 2),
                asset("data-platform", 3, Confidence.PEER_REVIEWED, 3),
            ),
            GapStatus.MET,
            False,
        ),
    ],
)
def test_status_follows_maturity_and_confidence(
    claims: tuple[Claim, ...], status: GapStatus, recommended_again: bool
) -> None:
    analysis = engine.analyse(profile(*claims), MODEL, generated_at=WHEN)
    gap = next(g for g in analysis.gaps if g.capability_key == "data-platform")
    assert gap.status == status
    assert ("data-platform" in recommended(claims)) is recommended_again


def test_activities_count_by_status() -> None:
    def status_with(state: ActivityStatus) -> GapStatus:
        claim = Claim(
            "learning-community",
            engine.ACTIVITY_MATURITY[state],
            None,
            CapabilityKind.ACTIVITY,
            ORG.id,
            uuid.UUID(int=9),
            "Monthly learning community",
        )
        gaps = engine.analyse(profile(claim), MODEL, generated_at=WHEN).gaps
        return next(g.status for g in gaps if g.capability_key == "learning-community")

    assert status_with(ActivityStatus.ACTIVE) == GapStatus.MET
    assert status_with(ActivityStatus.COMPLETED) == GapStatus.MET
    assert status_with(ActivityStatus.PLANNED) == GapStatus.NEEDS_DEVELOPMENT
    assert status_with(ActivityStatus.STOPPED) == GapStatus.MISSING


def test_worked_example_of_docs_recomputes_by_hand() -> None:
    """docs/gap-analysis.md walks through exactly these numbers."""
    analysis = engine.analyse(
        profile(
            asset("digital-infrastructure", 3, Confidence.SELF_ASSESSED, 2),
            asset("improvement-capability", 2, Confidence.PEER_REVIEWED, 3),
            asset("learning-culture", 3, Confidence.EVIDENCED, 4),
        ),
        MODEL,
        generated_at=WHEN,
    )
    assert analysis.summary.overall_score == 12.6  # 100 x (0.68x2/3 + 0.67x2/3 + 0.70) / 12.65
    first = analysis.recommendations[0]
    assert first.capability_key == "digital-infrastructure"
    assert first.why.current_maturity == 2
    assert first.why.reported_maturity == 3
    assert first.why.confidence_discount == 1
    assert first.why.gap_factor == 0.3333
    assert first.why.unlocks == 8
    assert first.why.prerequisite_factor == 1.8
    assert first.priority_score == 40.8
    assert first.ranking_score == 76.7  # data-platform: 100 x 0.59 x 1 x 1.3 waits on it
    second = analysis.recommendations[1]
    assert (second.capability_key, second.priority_score) == ("data-platform", 76.7)
    assert second.blocked_by == ["digital-infrastructure"]
    assert "learning-culture" not in [r.capability_key for r in analysis.recommendations]


def test_every_score_recomputes_from_its_why_and_prerequisites_come_first() -> None:
    rng = random.Random(7)
    claims = tuple(
        asset(c.key, rng.randint(0, 4), rng.choice(list(Confidence)), n)
        for n, c in enumerate(MODEL.capabilities, start=10)
        if rng.random() < 0.6
    )
    analysis = engine.analyse(profile(*claims), MODEL, generated_at=WHEN)
    position = {r.capability_key: r.rank for r in analysis.recommendations}
    for r in analysis.recommendations:
        w = r.why
        assert r.priority_score == round(100 * w.weight * w.gap_factor * w.prerequisite_factor, 2)
        assert w.gap == w.target_maturity - w.current_maturity
        for prerequisite in r.blocked_by:
            assert position[prerequisite] < r.rank
    assert [r.rank for r in analysis.recommendations] == list(
        range(1, len(analysis.recommendations) + 1)
    )


def test_same_records_in_any_order_give_the_same_json() -> None:
    claims = [
        asset(c.key, (i % 5), list(Confidence)[i % 3], i) for i, c in enumerate(MODEL.capabilities)
    ]
    first = engine.analyse(profile(*claims), MODEL, generated_at=WHEN).model_dump_json()
    random.Random(1).shuffle(claims)
    assert engine.analyse(profile(*claims), MODEL, generated_at=WHEN).model_dump_json() == first


def _tiny_model(weights: dict[str, float], depends: dict[str, list[str]]) -> ReferenceModelPublic:
    levels = {k: "x" for k in ("absent", "planned", "developing", "established", "embedded")}
    data = {
        "version": "t",
        "title": "t",
        "description": "t",
        "publishedOn": "2024-01-01",
        "weighting": "given",
        "minimumConfidence": "peer_reviewed",
        "capabilities": [
            {
                "key": key,
                "area": "data",
                "kind": "asset",
                "title": key,
                "description": key,
                "audience": "organisation",
                "weight": weight,
                "targetMaturity": 3,
                "levels": levels,
                "dependsOn": depends.get(key, []),
                "loopStage": "practice_to_data",
                "actions": ["do it"],
                "sources": [{"recommendation": 1}],
            }
            for key, weight in weights.items()
        ],
    }
    return to_public(ReferenceModelInput.model_validate(data, strict=False), version="t")


def test_ties_break_by_key_and_prerequisites_are_never_outranked() -> None:
    tied = _tiny_model({"b-cap": 0.5, "a-cap": 0.5}, {})
    order = [
        r.capability_key for r in engine.analyse(profile(), tied, generated_at=WHEN).recommendations
    ]
    assert order == ["a-cap", "b-cap"]
    chained = _tiny_model({"base": 0.1, "heavy": 0.9}, {"heavy": ["base"]})
    recs = engine.analyse(profile(), chained, generated_at=WHEN).recommendations
    assert [r.capability_key for r in recs] == ["base", "heavy"]
    assert recs[1].blocked_by == ["base"]
    assert recs[0].ranking_score == recs[1].priority_score == 90.0


def test_a_shared_asset_from_above_counts_and_says_so() -> None:
    ics = uuid.UUID(int=50)
    shared = Claim(
        "data-platform",
        3,
        Confidence.EVIDENCED,
        CapabilityKind.ASSET,
        ics,
        uuid.UUID(int=51),
        "ICS platform",
        True,
    )
    gap = next(
        g
        for g in engine.analyse(profile(shared), MODEL, generated_at=WHEN).gaps
        if g.capability_key == "data-platform"
    )
    assert gap.status == GapStatus.MET
    assert gap.evidence[0].inherited is True
    assert gap.evidence[0].organisation_id == ics
    assert gap.note is not None
    assert "shared" in gap.note


def test_getting_started_and_learning_loop_read_the_records() -> None:
    started = engine.analyse(
        profile(
            asset("data-platform", 3, Confidence.EVIDENCED, 2),
            asset("analytics-workforce", 3, Confidence.EVIDENCED, 3),
            asset("senior-learning-leadership", 2, Confidence.EVIDENCED, 4),
            areas_recorded=frozenset(Area),
            activity_types=frozenset({ActivityType.IMPROVEMENT_PROJECT}),
        ),
        MODEL,
        generated_at=WHEN,
    )
    done = {s.step for s in started.getting_started.steps if s.done}
    assert done == {1, 4, 5}
    assert started.getting_started.next_step == 2
    links = {link.stage.value: link.status for link in started.learning_loop.links}
    assert links == {
        "practice_to_data": LinkStatus.IN_PLACE,
        "data_to_knowledge": LinkStatus.IN_PLACE,
        "knowledge_to_practice": LinkStatus.BROKEN,
    }
    assert [s.value for s in started.learning_loop.broken_links] == ["knowledge_to_practice"]


def test_system_view_builds_once_or_spreads() -> None:
    members = [
        Profile(
            organisation=OrganisationRef(id=uuid.UUID(int=100 + i), name=f"Member {i}"),
            claims=(
                (
                    Claim(
                        "data-platform",
                        3,
                        Confidence.EVIDENCED,
                        CapabilityKind.ASSET,
                        uuid.UUID(int=100 + i),
                    ),
                )
                if i == 0
                else ()
            )
            + (
                Claim(
                    "learning-culture",
                    4,
                    Confidence.EVIDENCED,
                    CapabilityKind.ASSET,
                    uuid.UUID(int=100 + i),
                ),
            ),
        )
        for i in range(5)
    ]
    system = engine.analyse_system(ORG, members, MODEL, generated_at=WHEN)
    coverage = {c.capability_key: c for c in system.capabilities}
    assert coverage["data-platform"].members_meeting == 1
    assert coverage["learning-culture"].coverage == 1.0
    recs = {r.capability_key: r for r in system.recommendations}
    assert "learning-culture" not in recs
    assert recs["data-platform"].strategy == Strategy.BUILD_ONCE  # 1 of 5 < 25%
    assert recs["digital-infrastructure"].strategy == Strategy.BUILD_ONCE
    members[1] = Profile(organisation=members[1].organisation, claims=members[0].claims)
    spread = engine.analyse_system(ORG, members, MODEL, generated_at=WHEN)
    data = next(r for r in spread.recommendations if r.capability_key == "data-platform")
    assert data.strategy == Strategy.SPREAD
    assert [o.name for o in data.spread_from] == ["Member 0", "Member 1"]
    assert system.summary.capabilities_met_everywhere == 1


def test_an_activity_alone_cannot_meet_an_asset_capability() -> None:
    project = Claim(
        "data-platform",
        engine.ACTIVITY_MATURITY[ActivityStatus.COMPLETED],
        None,
        CapabilityKind.ACTIVITY,
        ORG.id,
        uuid.UUID(int=70),
        "Platform build project",
    )
    gap = next(
        g
        for g in engine.analyse(profile(project), MODEL, generated_at=WHEN).gaps
        if g.capability_key == "data-platform"
    )
    assert (gap.status, gap.current_maturity) == (GapStatus.NEEDS_DEVELOPMENT, 2)
    assert gap.evidence[0].maturity == 3
    assert gap.evidence[0].credited_maturity == 2


def test_records_the_model_does_not_know_are_counted_as_unlinked() -> None:
    stray = asset("a-key-from-an-older-model", 3, Confidence.EVIDENCED, 80)
    summary = engine.analyse(profile(stray, unlinked_records=2), MODEL, generated_at=WHEN).summary
    assert summary.unlinked_records == 3
    assert summary.overall_score == 0
