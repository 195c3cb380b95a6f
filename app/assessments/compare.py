"""What changed between two stored analyses: a pure function, for board reports."""

from collections.abc import Sequence
from typing import Protocol

from app.analysis.schemas import GapAnalysis, GapStatus, SystemGapAnalysis
from app.assessments.schemas import (
    AreaChange,
    AssessmentComparison,
    AssessmentRef,
    CoverageChange,
    GapChange,
    RankChange,
    SystemAssessmentComparison,
)


class Ranked(Protocol):
    @property
    def capability_key(self) -> str: ...
    @property
    def rank(self) -> int: ...
    @property
    def title(self) -> str: ...


def model_note(before: str, after: str) -> str | None:
    if before == after:
        return None
    return (
        f"The reference models differ: {before} then {after}. Capabilities, targets, evidence "
        "rules and ranking changed between them, so score, gap and rank changes mix what the "
        "organisation did with what the model now asks. Compare assessments on one version "
        "for progress."
    )


def compare(
    before: GapAnalysis, after: GapAnalysis, *, before_ref: AssessmentRef, after_ref: AssessmentRef
) -> AssessmentComparison:
    old = {g.capability_key: g for g in before.gaps}
    new = {g.capability_key: g for g in after.gaps}
    closed, opened, other = [], [], []
    for key in sorted(old.keys() | new.keys()):
        was, now = old.get(key), new.get(key)
        change = GapChange(
            capability_key=key,
            title=(now or was).title,  # type: ignore[union-attr]
            from_status=was.status if was else None,
            to_status=now.status if now else None,
            from_maturity=was.current_maturity if was else None,
            to_maturity=now.current_maturity if now else None,
        )
        was_met = was is not None and was.status == GapStatus.MET
        now_met = now is not None and now.status == GapStatus.MET
        if now_met and not was_met:
            closed.append(change)
        elif was_met and not now_met:
            opened.append(change)
        elif (change.from_status, change.from_maturity) != (change.to_status, change.to_maturity):
            other.append(change)
    moved = _moved(before.recommendations, after.recommendations)
    old_areas = {a.area: a.score for a in before.summary.areas}
    areas = [
        AreaChange(
            area=a.area,
            from_score=old_areas.get(a.area, 0.0),
            to_score=a.score,
            change=round(a.score - old_areas.get(a.area, 0.0), 1),
        )
        for a in after.summary.areas
    ]
    return AssessmentComparison(
        scope="organisation",
        from_assessment=before_ref,
        to_assessment=after_ref,
        reference_model_changed=before.reference_model.version != after.reference_model.version,
        model_note=model_note(before.reference_model.version, after.reference_model.version),
        score_change=round(after.summary.overall_score - before.summary.overall_score, 1),
        areas=areas,
        gaps_closed=closed,
        gaps_opened=opened,
        maturity_changes=other,
        recommendations_moved=moved,
    )


def _moved(before: Sequence[Ranked], after: Sequence[Ranked]) -> list[RankChange]:
    """Recommendations whose rank changed, or that came or went."""
    old = {r.capability_key: r for r in before}
    new = {r.capability_key: r for r in after}
    moved = []
    for key in sorted(old.keys() | new.keys()):
        was, now = old.get(key), new.get(key)
        from_rank = was.rank if was else None
        to_rank = now.rank if now else None
        if from_rank == to_rank:
            continue
        moved.append(
            RankChange(
                capability_key=key,
                title=now.title if now else was.title if was else key,
                from_rank=from_rank,
                to_rank=to_rank,
                movement=from_rank - to_rank if from_rank and to_rank else None,
            )
        )
    return moved


def compare_systems(
    before: SystemGapAnalysis,
    after: SystemGapAnalysis,
    *,
    before_ref: AssessmentRef,
    after_ref: AssessmentRef,
) -> SystemAssessmentComparison:
    old = {c.capability_key: c for c in before.capabilities}
    new = {c.capability_key: c for c in after.capabilities}
    changes = []
    for key in sorted(old.keys() | new.keys()):
        was, now = old.get(key), new.get(key)
        if was and now and was.coverage == now.coverage:
            continue
        changes.append(
            CoverageChange(
                capability_key=key,
                title=now.title if now else was.title if was else key,
                from_coverage=was.coverage if was else None,
                to_coverage=now.coverage if now else None,
                change=round(now.coverage - was.coverage, 4) if was and now else None,
                from_members_meeting=was.members_meeting if was else None,
                to_members_meeting=now.members_meeting if now else None,
            )
        )
    everywhere_before = {k for k, c in old.items() if c.coverage == 1}
    everywhere_after = {k for k, c in new.items() if c.coverage == 1}
    return SystemAssessmentComparison(
        scope="system",
        from_assessment=before_ref,
        to_assessment=after_ref,
        reference_model_changed=before.reference_model.version != after.reference_model.version,
        model_note=model_note(before.reference_model.version, after.reference_model.version),
        score_change=round(after.summary.overall_score - before.summary.overall_score, 1),
        now_met_everywhere=sorted(everywhere_after - everywhere_before),
        no_longer_met_everywhere=sorted(everywhere_before - everywhere_after),
        coverage_changes=changes,
        recommendations_moved=_moved(before.recommendations, after.recommendations),
    )
