"""An analysis by another framework's headings as CSV: one row per heading."""

from app.crosswalks.schemas import FrameworkView
from app.transfer.cells import neutralise
from app.transfer.csvio import encode_rows

COLUMNS: dict[str, str] = {
    "framework": "wgll, nhs-impact or nmg.",
    "heading": "The heading's key in the framework.",
    "title": "The heading.",
    "score": "The weight-weighted mean of its mapped capabilities' scores, 0-100 (blank when "
    "none applies).",
    "weight": "The sum of the weights the mean is taken over.",
    "capabilities": "Mapped capabilities that apply.",
    "capabilitiesMet": "Of those, the ones met.",
    "mappings": "Each mapped capability as key (relationship): score, separated by ';'.",
    "referenceModel": "The model version used.",
}


def render(view: FrameworkView, model_version: str) -> bytes:
    rows = [
        [
            view.framework.value,
            h.heading,
            h.title,
            "" if h.score is None else h.score,
            h.weight,
            h.capabilities,
            h.capabilities_met,
            "; ".join(
                f"{m.capability_key} ({m.relationship.value}): "
                + ("n/a" if m.score is None else f"{m.score}")
                for m in h.mappings
            ),
            model_version,
        ]
        for h in view.headings
    ]
    return encode_rows(
        [list(COLUMNS), *([neutralise(str(cell)) for cell in row] for row in rows)], first=True
    )


def described() -> str:
    return "With view: one row per heading instead:\n" + "\n".join(
        f"- `{name}`: {meaning}" for name, meaning in COLUMNS.items()
    )
