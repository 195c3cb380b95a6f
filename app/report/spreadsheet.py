"""The report's recommendations as CSV, one row per recommendation, for a spreadsheet."""

import csv
import io
from collections.abc import Iterator

from app.analysis.schemas import (
    GapAnalysis,
    Recommendation,
    SystemGapAnalysis,
    SystemRecommendation,
)
from app.report import wording
from app.transfer.cells import BOM, neutralise

# The header, in order, with what each column holds (also published in the OpenAPI document).
COLUMNS: dict[str, str] = {
    "view": "organisation (this organisation's own recommendations) or system (its members').",
    "rank": "1 is first.",
    "capabilityKey": "The reference model's key for the capability.",
    "title": "The capability.",
    "area": "data, technology, learning_communities or improvement.",
    "status": "organisation rows: met, needs_development, missing (or a later model's status).",
    "strategy": "system rows: build_once_for_system or spread_from_members.",
    "priorityScore": "The score the analysis gives the recommendation.",
    "rankingScore": "What the list is ordered by.",
    "weight": "The capability's weight in the model.",
    "currentMaturity": "organisation rows: best credited maturity, 0-4.",
    "targetMaturity": "organisation rows: the model's target, 0-4.",
    "coverage": "system rows: share of members that meet it, 0-1.",
    "unlocks": "Unmet capabilities that need this one first.",
    "blockedBy": "Keys of unmet prerequisites, one per line.",
    "why": "The score in words.",
    "actions": "What to do, one per line.",
    "sources": "Where the report says so, one per line.",
    "peers": "organisation rows: who nearby already meets it; system rows: members to spread "
    "it from. One per line.",
    "referenceModel": "The model version used.",
}


def _lines(items: list[str]) -> str:
    return "\n".join(items)


def _organisation_row(item: Recommendation, model: str) -> dict[str, object]:
    return {
        "view": "organisation",
        "rank": item.rank,
        "capabilityKey": item.capability_key,
        "title": item.title,
        "area": item.area.value,
        "status": item.status.value,
        "strategy": "",
        "priorityScore": item.priority_score,
        "rankingScore": item.ranking_score,
        "weight": item.why.weight,
        "currentMaturity": item.why.current_maturity,
        "targetMaturity": item.why.target_maturity,
        "coverage": "",
        "unlocks": item.why.unlocks,
        "blockedBy": _lines(item.blocked_by),
        "why": wording.recommendation_why(item),
        "actions": _lines(item.actions),
        "sources": _lines([wording.source(s) for s in item.sources]),
        "peers": _lines([o.name for o in item.available_in_system]),
        "referenceModel": model,
    }


def _system_row(item: SystemRecommendation, model: str) -> dict[str, object]:
    return {
        "view": "system",
        "rank": item.rank,
        "capabilityKey": item.capability_key,
        "title": item.title,
        "area": item.area.value,
        "status": "",
        "strategy": item.strategy.value,
        "priorityScore": item.priority_score,
        "rankingScore": item.ranking_score,
        "weight": item.weight,
        "currentMaturity": "",
        "targetMaturity": "",
        "coverage": item.coverage,
        "unlocks": item.unlocks,
        "blockedBy": _lines(item.blocked_by),
        "why": item.explanation,
        "actions": _lines(item.actions),
        "sources": "",
        "peers": _lines([o.name for o in item.spread_from]),
        "referenceModel": model,
    }


def rows(analysis: GapAnalysis, system: SystemGapAnalysis | None) -> Iterator[dict[str, object]]:
    for item in analysis.recommendations:
        yield _organisation_row(item, analysis.reference_model.version)
    if system is not None:
        for system_item in system.recommendations:
            yield _system_row(system_item, system.reference_model.version)


def render(analysis: GapAnalysis, system: SystemGapAnalysis | None) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    for row in rows(analysis, system):
        writer.writerow({k: neutralise(str(v)) for k, v in row.items()})
    return BOM + buffer.getvalue()
