"""Crosswalk files, the roll-up of an analysis by a framework's headings, and the credit an
imported return gives: pure functions of plain data, no database."""

import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.analysis import engine
from app.analysis.profile import Claim, Profile
from app.analysis.schemas import GapAnalysis, GapStatus, OrganisationRef
from app.crosswalks import service as crosswalks
from app.crosswalks.frameworks import HEADINGS, Framework
from app.crosswalks.schemas import CrosswalkFile, Relationship
from app.reference.service import shipped_models
from app.returns import credits
from app.returns.credits import StoredScore
from app.vocabulary import CapabilityKind, Confidence, OrganisationType, ReturnFramework

MODEL = next(m for m in shipped_models() if m.version == "2026.2")
ORG = OrganisationRef(id=uuid.UUID(int=1), name="Test Trust")
WHEN = datetime(2026, 12, 4, tzinfo=UTC)
FILES = sorted(crosswalks.DATA_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_crosswalk_file_fits_its_schema_and_its_model(path: Path) -> None:
    data = CrosswalkFile.model_validate(yaml.safe_load(path.read_text("utf-8")), strict=False)
    model = next(m for m in shipped_models() if m.version == data.model_version)
    assert path.name == f"lhs-{data.model_version}-{data.framework}.yaml"
    keys = {c.key for c in model.capabilities}
    assert {m.capability for m in data.mappings} == keys, "every capability maps, none unknown"
    assert {m.heading for m in data.mappings} <= set(HEADINGS[data.framework])
    assert all(isinstance(m.relationship, Relationship) for m in data.mappings)
    assert data.judgement == "model"


def test_a_file_with_a_heading_of_another_framework_is_refused() -> None:
    mapping = {
        "capability": "data-platform",
        "heading": "research",
        "relationship": "subset",
        "rationale": "A heading of the grid, not of WGLL.",
    }
    document: dict[str, Any] = {
        "framework": "wgll",
        "modelVersion": "2026.2",
        "judgement": "model",
        "statement": "The model's own reading, for a test.",
        "mappings": [mapping],
    }
    with pytest.raises(ValueError, match="Not a heading of wgll: research"):
        CrosswalkFile.model_validate(document)
    with pytest.raises(ValueError, match="relationship"):
        CrosswalkFile.model_validate(
            document
            | {"mappings": [mapping | {"heading": "safe-practice", "relationship": "overlaps"}]}
        )


def asset(key: str, maturity: int, confidence: Confidence = Confidence.EVIDENCED) -> Claim:
    return Claim(
        capability_key=key,
        maturity=maturity,
        confidence=confidence,
        kind=CapabilityKind.ASSET,
        organisation_id=ORG.id,
        id=uuid.uuid4(),
        name=key,
        evidence_links=1,
        reviewed=True,
    )


def analysed(*claims: Claim, returned: tuple[Claim, ...] = (), **extra: object) -> GapAnalysis:
    profile = Profile(
        ORG,
        claims,
        organisation_type=OrganisationType.TRUST,
        returned=returned,
        **extra,  # type: ignore[arg-type]
    )
    return engine.analyse(profile, MODEL, generated_at=WHEN, today=WHEN.date())


def test_a_heading_scores_the_weight_weighted_mean_of_its_capabilities() -> None:
    """The worked example of docs/gap-analysis.md. For a trust every target is 3.
    Safe practice: decision-support-tools (weight 0.59) at 2 of 3 = 66.7 and
    information-governance (0.47) at 3 of 3 = 100: (0.59 x 66.7 + 0.47 x 100) / 1.06 = 81.5.
    Smart foundations: digital-infrastructure (0.68) at 100, technology-implementation (0.47),
    interoperable-data-sharing (0.51) and data-platform (0.59) at 0: 68 / 2.25 = 30.2."""
    analysis = analysed(
        asset("digital-infrastructure", 3),
        asset("decision-support-tools", 2),
        asset("information-governance", 3),
    )
    view = crosswalks.view(analysis, MODEL, crosswalks.for_analysis(MODEL, Framework.WGLL))
    by_key = {h.heading: h for h in view.headings}
    assert list(by_key) == list(HEADINGS[Framework.WGLL])
    safe = by_key["safe-practice"]
    assert safe.score == 81.5
    assert safe.weight == 1.06
    assert [(m.capability_key, m.score, m.relationship) for m in safe.mappings] == [
        ("decision-support-tools", 66.7, Relationship.INTERSECT),
        ("information-governance", 100.0, Relationship.SUBSET),
    ]
    assert (safe.capabilities, safe.capabilities_met) == (2, 1)
    foundations = by_key["smart-foundations"]
    assert foundations.score == 30.2
    assert foundations.capabilities_met == 1
    assert by_key["empower-citizens"].score == 0.0


def test_a_model_without_a_crosswalk_has_no_view() -> None:
    older = next(m for m in shipped_models() if m.version == "2026.1")
    assert crosswalks.for_model(older, Framework.NMG) is None
    with pytest.raises(Exception, match="no crosswalk to nmg"):
        crosswalks.for_analysis(older, Framework.NMG)


def dma(
    year: int, pillar: str, score: int, *, validated: bool = False, domain: str | None = None
) -> StoredScore:
    return StoredScore(ReturnFramework.DMA, year, pillar, domain, score, validated)


def test_a_return_credits_only_what_its_heading_covers_and_below_target() -> None:
    returned, seen = credits.claims(
        [
            dma(2025, "smart-foundations", 5, validated=True),
            dma(2025, "well-led", 4),
            dma(2024, "safe-practice", 5),  # an older year: the latest year alone counts
        ],
        MODEL,
        ORG.id,
    )
    assert [(s.framework, s.year, s.crosswalked) for s in seen] == [("dma", 2025, True)]
    by_key = {c.capability_key: c for c in returned}
    # equal or subset mappings only: technology-implementation only intersects the pillar
    assert set(by_key) == {
        "digital-infrastructure",
        "interoperable-data-sharing",
        "data-platform",
        "senior-learning-leadership",
        "leadership-at-all-levels",
    }
    assert by_key["digital-infrastructure"].maturity == 4  # score 5 -> level 4
    assert by_key["digital-infrastructure"].confidence == Confidence.PEER_REVIEWED
    assert by_key["senior-learning-leadership"].confidence == Confidence.SELF_ASSESSED

    # The organisation's own record of data-platform wins, however low.
    analysis = analysed(
        asset("data-platform", 1, Confidence.SELF_ASSESSED), returned=returned, returns=seen
    )
    gaps = {g.capability_key: g for g in analysis.gaps}
    # Level 4, peer reviewed, target 3: a return never meets it (at most target - 1).
    assert gaps["digital-infrastructure"].current_maturity == 2
    assert gaps["digital-infrastructure"].status == GapStatus.NEEDS_DEVELOPMENT
    assert "dma 2025" in (gaps["digital-infrastructure"].note or "")
    # Level 3, self-assessed: one level lower under the model's minimum confidence.
    assert gaps["senior-learning-leadership"].current_maturity == 2
    assert gaps["data-platform"].current_maturity == 0
    credited = {c.capability_key: c for c in analysis.from_returns}
    assert "data-platform" not in credited
    assert credited["digital-infrastructure"].origin == "dma 2025"
    assert credited["digital-infrastructure"].headings == ["smart-foundations"]
    assert (credited["digital-infrastructure"].score, credited["digital-infrastructure"].level) == (
        5,
        4,
    )
    assert [(r.origin, r.credits, r.warning) for r in analysis.returns] == [("dma 2025", 4, None)]
    provenance = analysis.summary.provenance
    assert provenance is not None
    by_origin = provenance.by_origin
    assert by_origin.returns > 0
    assert round(by_origin.records + by_origin.returns, 1) == analysis.summary.overall_score
    assert '"return":' in provenance.model_dump_json(by_alias=True)


def test_without_returns_the_origin_is_all_records() -> None:
    analysis = analysed(asset("digital-infrastructure", 3))
    assert analysis.from_returns == []
    assert analysis.returns == []
    provenance = analysis.summary.provenance
    assert provenance is not None
    assert provenance.by_origin.returns == 0
    assert provenance.by_origin.records == analysis.summary.overall_score


def test_a_return_more_than_two_years_old_is_flagged() -> None:
    returned, seen = credits.claims([dma(2023, "smart-foundations", 3)], MODEL, ORG.id)
    profile = Profile(
        ORG, (), organisation_type=OrganisationType.TRUST, returned=returned, returns=seen
    )
    this_year = engine.analyse(profile, MODEL, generated_at=WHEN, today=date(2025, 6, 1))
    assert this_year.returns[0].warning is None
    later = engine.analyse(profile, MODEL, generated_at=WHEN, today=date(2026, 1, 1))
    assert "more than 2 years old" in (later.returns[0].warning or "")


def test_a_pillar_without_its_own_score_takes_its_lowest_domain() -> None:
    scores = credits.heading_scores(
        [
            dma(2025, "smart-foundations", 4, domain="Infrastructure", validated=True),
            dma(2025, "smart-foundations", 2, domain="Cyber security", validated=True),
            dma(2025, "well-led", 3),
            dma(2025, "well-led", 1, domain="Leadership"),
        ]
    )
    assert scores == {"smart-foundations": (2, True), "well-led": (3, False)}
    assert [credits.level_of(s) for s in range(1, 6)] == [0, 1, 2, 3, 4]
