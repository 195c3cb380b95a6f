"""Reading a return's rows (pure): each cell checked, and every refusal echoing the value it
refused and saying what was expected. The columns are ours (docs/gap-analysis.md says how
to fill them from the published returns)."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.crosswalks.frameworks import HEADINGS, Framework
from app.errors import excerpt
from app.fields import PRINTABLE
from app.transfer.columns import Column, Kind
from app.transfer.formats import RawRow
from app.vocabulary import ReturnFramework

# The framework whose headings a return is scored against (and whose crosswalk credits it).
CROSSWALK_OF: dict[ReturnFramework, Framework] = {
    ReturnFramework.DMA: Framework.WGLL,
    ReturnFramework.NHS_IMPACT: Framework.NHS_IMPACT,
}
HEADING_COLUMN: dict[ReturnFramework, str] = {
    ReturnFramework.DMA: "pillar",
    ReturnFramework.NHS_IMPACT: "component",
}
FIRST_YEAR = 2000
_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0", ""})

_COMMON = {
    "year": Column("year", Kind.TEXT, "The year of the return, e.g. 2025 (for 2025/26)."),
    "score": Column("score", Kind.TEXT, "The score as returned: a whole number 1-5."),
    "validated": Column(
        "validated",
        Kind.TEXT,
        "yes when the return was validated (its scores count as peer_reviewed); no or blank: "
        "self_assessed.",
    ),
}
COLUMNS: dict[ReturnFramework, dict[str, Column]] = {
    ReturnFramework.DMA: {
        "year": _COMMON["year"],
        "pillar": Column(
            "pillar",
            Kind.TEXT,
            "The What Good Looks Like pillar, by key (the drop-down's values) or by name.",
        ),
        "domain": Column(
            "domain",
            Kind.TEXT,
            "Blank for the pillar's score; else the DMA domain within the pillar the score is for.",
        ),
        "score": _COMMON["score"],
        "validated": _COMMON["validated"],
    },
    ReturnFramework.NHS_IMPACT: {
        "year": _COMMON["year"],
        "component": Column(
            "component",
            Kind.TEXT,
            "The NHS IMPACT component, by key (the drop-down's values) or by name.",
        ),
        "score": Column(
            "score",
            Kind.TEXT,
            "The component's level as a whole number 1-5, counting the self-assessment's "
            "levels from the lowest.",
        ),
        "validated": _COMMON["validated"],
    },
}
# The values a template offers in its drop-downs (a cell may also name a heading in words).
CHOICES: dict[ReturnFramework, dict[str, list[str]]] = {
    framework: {
        HEADING_COLUMN[framework]: list(HEADINGS[CROSSWALK_OF[framework]]),
        "validated": ["yes", "no"],
    }
    for framework in ReturnFramework
}


def _folded(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _names(framework: Framework) -> dict[str, str]:
    """Every spelling a heading is known by (its key, its title, the title without the verb
    NHS England's list puts first), folded, to its key."""
    names: dict[str, str] = {}
    for key, title in HEADINGS[framework].items():
        for name in (
            key,
            title,
            re.sub(r"^(ensure|building|developing|a)\s+", "", title, flags=re.I),
        ):
            names[_folded(name)] = key
            names[_folded(name).removeprefix("a-")] = key
    return names


_HEADING_NAMES = {f: _names(CROSSWALK_OF[f]) for f in ReturnFramework}


@dataclass(frozen=True)
class ReturnRow:
    line: int
    """As a person counts rows: in a CSV the header is 1; in a JSON array the first is 1."""
    year: int
    heading: str
    domain: str | None
    score: int
    validated: bool


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _text(value)
    return int(text) if re.fullmatch(r"-?\d{1,6}", text) else None


def parse(framework: ReturnFramework, raw: RawRow, this_year: int) -> ReturnRow | None:
    """The row, or None with its problems added to ``raw.issues``."""
    values: Mapping[str, Any] = raw.values
    heading_column = HEADING_COLUMN[framework]
    allowed = set(COLUMNS[framework])
    for name in values:
        if name not in allowed:
            raw.issues.append(
                raw.issue(
                    name,
                    f"Unknown field {excerpt(str(name))}; a {framework} return has: "
                    f"{', '.join(COLUMNS[framework])}.",
                )
            )
    year = _whole(values.get("year"))
    if year is None or not FIRST_YEAR <= year <= this_year:
        raw.issues.append(
            raw.issue(
                "year",
                f"Got {excerpt(_text(values.get('year')) or 'nothing')}; expected the return's "
                f"year, a whole number from {FIRST_YEAR} to {this_year}.",
            )
        )
    named = _text(values.get(heading_column))
    heading = _HEADING_NAMES[framework].get(_folded(named))
    if heading is None:
        headings = HEADINGS[CROSSWALK_OF[framework]]
        raw.issues.append(
            raw.issue(
                heading_column,
                f"Got {excerpt(named or 'nothing')}; expected one of: "
                + "; ".join(f"{k} ({t})" for k, t in headings.items())
                + ".",
            )
        )
    score = _whole(values.get("score"))
    if score is None or not 1 <= score <= 5:
        raw.issues.append(
            raw.issue(
                "score",
                f"Got {excerpt(_text(values.get('score')) or 'nothing')}; expected a whole "
                "number from 1 to 5.",
            )
        )
    flag = values.get("validated")
    validated: bool | None = flag if isinstance(flag, bool) else None
    if validated is None:
        folded = _text(flag).lower()
        validated = True if folded in _YES else False if folded in _NO else None
    if validated is None:
        raw.issues.append(
            raw.issue("validated", f"Got {excerpt(_text(flag))}; expected yes, no or blank.")
        )
    given = values.get("domain")
    domain = _text(given) or None
    if isinstance(given, dict | list):  # a JSON object or array; a sheet's number is text
        domain = None
        raw.issues.append(raw.issue("domain", "Got no text; expected the domain's name or blank."))
    elif domain is not None and len(domain) > 100:
        raw.issues.append(raw.issue("domain", "Got more than 100 characters; expected a name."))
    elif domain is not None and not re.match(PRINTABLE, domain):
        # As every text here: NUL cannot even be stored in PostgreSQL (a 500, not a refusal).
        raw.issues.append(
            raw.issue(
                "domain", "Got a control, bidirectional or separator character; expected a name."
            )
        )
    if raw.issues or year is None or heading is None or score is None or validated is None:
        return None
    # The row's number as its refusals give it: a CSV's header is 1, a JSON array's first is 1.
    return ReturnRow(raw.line, year, heading, domain, score, validated)
