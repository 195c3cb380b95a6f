"""Every route whose JSON answer is written on a hand path rather than by FastAPI serialising
its response model, beside that model, with the measured reason.

Everywhere else a route returns its response model and FastAPI serialises it (pydantic-core's
``dump_json``). A hand path is kept only where writing the bytes through the model costs more
than 10 % of the route's p50 under the benchmark's load, beyond the spread between two runs
(docs/performance.md, "Answers": ``python -m bench.answers``, which has the table the
reasons below quote, µs of CPU in process, two runs). A route that declares a JSON
response model but returns a ``Response`` must be listed here (tests/test_answer_bytes.py
checks that), and each entry's bytes are held equal to ``TypeAdapter(model).dump_json`` of
the same data over generated rows there too."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from app.analysis import answers as analysis_answers
from app.analysis.schemas import AnyGapAnalysis
from app.api import Links
from app.assets import answers as asset_answers
from app.assets.schemas import AssetPage
from app.http.links import PageRows, page_body

D = TypeVar("D")
M = TypeVar("M")


@dataclass(frozen=True)
class HandAnswer(Generic[D, M]):
    """A route's hand path (``write``) and what it stands for: the response model the route
    declares, built from the same data as the route would build it (``model``)."""

    operation_id: str
    response_model: Any
    write: Callable[[D], bytes]
    model: Callable[[D], M]
    reason: str


@dataclass(frozen=True)
class AnalysisAnswer:
    """A remembered analysis, answered at a moment."""

    remembered: analysis_answers.Remembered
    generated_at: datetime


ASSET_PAGE = HandAnswer[PageRows, AssetPage](
    operation_id="assets-list",
    response_model=AssetPage,
    write=lambda page: page_body(page, asset_answers.page_item),
    model=lambda page: AssetPage(
        items=[asset_answers.public(row) for row in page.rows],
        links=Links(self=page.self_url, next=page.next_url),
    ),
    reason="On PostgreSQL, through the model a page of 50 costs 0.20-0.21 ms more CPU (0.15 "
    "by orjson from the rows, 0.36 for FastAPI to validate and dump the same values): 15-18 % "
    "of the whole request's 1.2-1.3 ms. On SQLite 10-11 %.",
)

GAP_ANALYSIS = HandAnswer[AnalysisAnswer, analysis_answers.AnyAnalysis](
    operation_id="gap-analysis-get",
    response_model=AnyGapAnalysis,
    write=lambda answer: answer.remembered.json(answer.generated_at),
    model=lambda answer: answer.remembered.at(answer.generated_at),
    reason="On PostgreSQL, dumping a remembered member analysis of an ICS of 200 (some 300 "
    "objects) costs 0.49 ms of CPU on every answer, the splice 3 µs: 29-32 % of the whole "
    "request. A system roll-up's costs 3.6-3.7 ms, 2.1-2.3 times its whole request.",
)

REGISTRY: tuple[HandAnswer[Any, Any], ...] = (ASSET_PAGE, GAP_ANALYSIS)
