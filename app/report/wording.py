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


# Why the Box 11 steps lead the list, in one sentence a board reads (the chapter's own order).
BOX11_FIRST = (
    "Recommendations that answer one of Box 11's first four getting-started steps come first, "
    "whatever their score: the chapter sets these steps (find the care problem, convene a "
    "learning community, agree an improvement ambition, secure senior support) as the way to "
    "start, and the rest builds on them."
)


def plain_reason(item: Recommendation) -> str:
    """Why it is on the list and where, without the ranking numbers (they go to a footnote)."""
    reasons: list[str] = []
    if item.getting_started_step is not None:
        reasons.append(f"it is getting-started step {item.getting_started_step} of Box 11")
    if item.blocked_by:
        reasons.append("it waits on what is listed under 'Needs first'")
    if item.why.unlocks:
        others = "another capability" if item.why.unlocks == 1 else "other capabilities"
        reasons.append(f"{others} cannot be met without it")
    if item.why.known_gap:
        reasons.append("your records already show it below its target")
    elif item.why.reported_maturity == 0:
        reasons.append("nothing is recorded for it yet")
    if item.why.confidence_discount:
        reasons.append("its evidence has not been checked, so it counts a level lower")
    if not reasons:
        return "It is below the level the model sets for an organisation like yours."
    sentence = "; ".join(reasons)
    return f"On the list because {sentence}."


def share(part: float, whole: float) -> str:
    """A part of the score as a whole percentage of it ("0%" of a zero score)."""
    return f"{round(100 * part / whole) if whole else 0}%"


def plural(name: str) -> str:
    """An organisation type's name in the plural, as a sentence names several."""
    if name == "organisation of another kind":
        return "organisations of other kinds"
    if name.endswith("y") and not name.endswith("ey"):
        return name[:-1] + "ies"
    return name + "s"
