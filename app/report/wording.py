"""How the report words the analysis's values, shared by the HTML page and the CSV.

Every lookup falls back to the value itself, humanised: a status or stage that a later model
version adds (say ``not_applicable``) reads well before anyone adds it here.
"""

from datetime import datetime
from enum import Enum

from app.analysis.schemas import Recommendation, Why
from app.reference.parts import Source
from app.report.charts import AREA_LABELS
from app.vocabulary import Derivation

MATURITY = ("absent", "planned", "developing", "established", "embedded")

_LABELS: dict[str, str] = {
    **{str(area): label for area, label in AREA_LABELS.items()},
    "met": "Met",
    "needs_development": "Needs development",
    "missing": "Missing",
    "in_place": "In place",
    "weak": "Weak",
    "broken": "Broken",
    "practice_to_data": "Practice → data",
    "data_to_knowledge": "Data → knowledge",
    "knowledge_to_practice": "Knowledge → practice",
    "build_once_for_system": "Build once for the system",
    "spread_from_members": "Spread from members",
    "ics": "Integrated care system",
    "icb": "Integrated care board",
    "gp_practice": "GP practice",
}


def label(value: object) -> str:
    key = value.value if isinstance(value, Enum) else value
    text = str(key)
    return _LABELS.get(text, text.replace("_", " ").capitalize())


def maturity(level: int) -> str:
    return f"{level} ({MATURITY[level]})" if 0 <= level < len(MATURITY) else str(level)


def source(item: Source) -> str:
    """A citation in words, saying when the link is the model's decision, not the report's."""
    if item.table is not None:
        text = (
            f"Table {item.table}, rank {item.rank}: {item.percentage}% of experts rated it "
            "a very high priority"
        )
    elif item.recommendation is not None:
        text = f"Recommendation {item.recommendation}"
    elif item.box11_step is not None:
        text = f"Box 11, step {item.box11_step}"
    else:
        text = str(item.section)
    if item.derivation == Derivation.MODELLING_DECISION:
        text += " (a modelling decision)"
    return text


def why(reasons: Why) -> str:
    """The priority score in words, with the numbers that make it."""
    parts = [
        f"at maturity {maturity(reasons.current_maturity)} of a target of "
        f"{maturity(reasons.target_maturity)}"
    ]
    if reasons.confidence_discount:
        parts.append(
            f"recorded as {reasons.reported_maturity}, less {reasons.confidence_discount} "
            "for unchecked evidence"
        )
    parts.append(f"weight {reasons.weight:g}")
    if reasons.unlocks:
        others = "capability" if reasons.unlocks == 1 else "capabilities"
        parts.append(f"unblocks {reasons.unlocks} other {others}")
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def recommendation_why(item: Recommendation) -> str:
    return f"{why(item.why)} Priority score {item.priority_score:g}."


def day(moment: datetime) -> str:
    return f"{moment.day} {moment:%B %Y}"


def timestamp(moment: datetime) -> str:
    return f"{day(moment)}, {moment:%H:%M} UTC"
