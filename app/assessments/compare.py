"""What changed between two stored analyses: a pure function, for board reports."""

from app.analysis.schemas import GapAnalysis, GapStatus
from app.assessments.schemas import (
    AreaChange,
    AssessmentComparison,
    AssessmentRef,
    GapChange,
    RankChange,
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
    old_rank = {r.capability_key: r for r in before.recommendations}
    new_rank = {r.capability_key: r for r in after.recommendations}
    moved = []
    for key in sorted(old_rank.keys() | new_rank.keys()):
        was_r, now_r = old_rank.get(key), new_rank.get(key)
        from_rank = was_r.rank if was_r else None
        to_rank = now_r.rank if now_r else None
        if from_rank == to_rank:
            continue
        moved.append(
            RankChange(
                capability_key=key,
                title=(now_r or was_r).title,  # type: ignore[union-attr]
                from_rank=from_rank,
                to_rank=to_rank,
                movement=from_rank - to_rank if from_rank and to_rank else None,
            )
        )
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
        from_assessment=before_ref,
        to_assessment=after_ref,
        reference_model_changed=before.reference_model.version != after.reference_model.version,
        score_change=round(after.summary.score - before.summary.score, 1),
        areas=areas,
        gaps_closed=closed,
        gaps_opened=opened,
        maturity_changes=other,
        recommendations_moved=moved,
    )
