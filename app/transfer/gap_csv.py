"""The gap analysis as CSV: one row per capability of the model.

For one organisation, each capability's status, maturity against target, the evidence that
counts and, when it is recommended, its rank and score. For a system (an ICS or network), each
capability's coverage among the members and, when recommended, its rank and strategy."""

from collections.abc import Iterator

from app.analysis.schemas import GapAnalysis, SystemGapAnalysis
from app.transfer.cells import neutralise
from app.transfer.csvio import encode_rows

ORGANISATION_COLUMNS: dict[str, str] = {
    "capabilityKey": "The reference model's key.",
    "title": "The capability.",
    "area": "data, technology, learning_communities or improvement.",
    "audience": "Who acts on it.",
    "status": "met, needs_development, missing (or a later model's status).",
    "currentMaturity": "Best credited maturity, 0-4.",
    "targetMaturity": "The model's target, 0-4.",
    "confidence": "Confidence of the best evidence.",
    "evidence": "The assets and activities that count, separated by ';'.",
    "blockedBy": "Unmet prerequisites, separated by ';'.",
    "rank": "Its place among the recommendations (blank when not recommended).",
    "priorityScore": "Its score when recommended.",
    "note": "Why the status is what it is, when not obvious.",
    "referenceModel": "The model version used.",
}
SYSTEM_COLUMNS: dict[str, str] = {
    "capabilityKey": "The reference model's key.",
    "title": "The capability.",
    "area": "data, technology, learning_communities or improvement.",
    "membersMeeting": "Members that meet it.",
    "membersTotal": "Members it applies to.",
    "coverage": "membersMeeting / membersTotal, 0-1.",
    "meeting": "Members that meet it, separated by ';'.",
    "notMeeting": "Members that do not, separated by ';'.",
    "rank": "Its place among the system's recommendations (blank when not recommended).",
    "strategy": "build_once_for_system or spread_from_members, when recommended.",
    "priorityScore": "Its score when recommended.",
    "referenceModel": "The model version used.",
}


def _join(items: list[str]) -> str:
    return "; ".join(items)


def _organisation(analysis: GapAnalysis) -> Iterator[list[object]]:
    recommended = {r.capability_key: r for r in analysis.recommendations}
    for gap in analysis.gaps:
        item = recommended.get(gap.capability_key)
        yield [
            gap.capability_key,
            gap.title,
            gap.area.value,
            gap.audience.value,
            gap.status.value,
            gap.current_maturity,
            gap.target_maturity,
            gap.confidence.value if gap.confidence else "",
            _join([e.name for e in gap.evidence]),
            _join(gap.blocked_by),
            item.rank if item else "",
            item.priority_score if item else "",
            gap.note or "",
            analysis.reference_model.version,
        ]


def _system(analysis: SystemGapAnalysis) -> Iterator[list[object]]:
    recommended = {r.capability_key: r for r in analysis.recommendations}
    for capability in analysis.capabilities:
        item = recommended.get(capability.capability_key)
        yield [
            capability.capability_key,
            capability.title,
            capability.area.value,
            capability.members_meeting,
            capability.members_total,
            capability.coverage,
            _join([o.name for o in capability.meeting]),
            _join([o.name for o in capability.not_meeting]),
            item.rank if item else "",
            item.strategy.value if item else "",
            item.priority_score if item else "",
            analysis.reference_model.version,
        ]


def render(analysis: GapAnalysis | SystemGapAnalysis) -> bytes:
    if isinstance(analysis, GapAnalysis):
        header, rows = list(ORGANISATION_COLUMNS), _organisation(analysis)
    else:
        header, rows = list(SYSTEM_COLUMNS), _system(analysis)
    return encode_rows(
        [header, *([neutralise(str(cell)) for cell in row] for row in rows)], first=True
    )


def described() -> str:
    def listing(columns: dict[str, str]) -> str:
        return "\n".join(f"- `{name}`: {meaning}" for name, meaning in columns.items())

    return (
        "UTF-8 with a byte-order mark, one row per capability. scope=organisation:\n"
        + listing(ORGANISATION_COLUMNS)
        + "\n\nscope=system:\n"
        + listing(SYSTEM_COLUMNS)
    )
