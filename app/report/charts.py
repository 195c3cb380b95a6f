"""Chart geometry for the report's inline SVG and heat map: pure functions from the analysis
models to coordinates and colours, so the template only places what is computed here."""

from collections.abc import Sequence
from dataclasses import dataclass

from app.analysis.schemas import AreaSummary, SystemGapAnalysis
from app.assessments.schemas import AssessmentRef
from app.benchmarks.schemas import Benchmark, Figure, WithheldReason
from app.vocabulary import Area

AREA_LABELS = {
    Area.DATA: "Data",
    Area.TECHNOLOGY: "Technology",
    Area.LEARNING_COMMUNITIES: "Learning communities",
    Area.IMPROVEMENT: "Improvement",
}

# Five bands of the share met, each a class of the stylesheet (light to dark blue): no inline
# style attributes, which a hash-based Content-Security-Policy would refuse.
BANDS = ("0\u201319%", "20\u201339%", "40\u201359%", "60\u201379%", "80\u2013100%")


@dataclass(frozen=True)
class Bar:
    label: str
    score: float
    y: float
    width: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    label_width: int
    plot_width: int
    bar_height: int
    ticks: list[tuple[int, float]]
    bars: list[Bar]


def area_bars(areas: Sequence[AreaSummary]) -> BarChart:
    """Horizontal bars, one per area, on a 0-100 axis (100 = every target reached)."""
    label_width, plot_width, bar_height, gap, top = 190, 380, 30, 16, 8
    bars = [
        Bar(
            label=AREA_LABELS.get(a.area, str(a.area)),
            score=a.score,
            y=top + i * (bar_height + gap),
            width=round(plot_width * a.score / 100, 1),
        )
        for i, a in enumerate(areas)
    ]
    height = top + len(bars) * (bar_height + gap) + 14
    ticks = [(t, label_width + plot_width * t / 100) for t in (0, 25, 50, 75, 100)]
    return BarChart(
        width=label_width + plot_width + 50,
        height=height,
        label_width=label_width,
        plot_width=plot_width,
        bar_height=bar_height,
        ticks=ticks,
        bars=bars,
    )


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    score: float
    label: str


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    plot_height: int
    top: int
    ticks: list[tuple[int, float]]
    points: list[Point]

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x},{p.y}" for p in self.points)


def score_line(history: Sequence[AssessmentRef]) -> LineChart:
    """Overall score at each stored assessment and today, evenly spaced, on a 0-100 axis."""
    width, height, left, right, top, bottom = 420, 170, 34, 24, 18, 28
    plot_width, plot_height = width - left - right, height - top - bottom
    step = plot_width / max(len(history) - 1, 1)
    points = [
        Point(
            x=round(left + i * step, 1),
            y=round(top + plot_height * (1 - ref.overall_score / 100), 1),
            score=ref.overall_score,
            label=ref.label or ref.created_at.strftime("%d %b %Y"),
        )
        for i, ref in enumerate(history)
    ]
    ticks = [(t, round(top + plot_height * (1 - t / 100), 1)) for t in (0, 50, 100)]
    return LineChart(
        width=width,
        height=height,
        left=left,
        plot_height=plot_height,
        top=top,
        ticks=ticks,
        points=points,
    )


@dataclass(frozen=True)
class Cell:
    met: int
    total: int
    percent: int
    band: int


@dataclass(frozen=True)
class HeatRow:
    name: str
    cells: list[Cell]
    met: int
    total: int


def _cell(met: int, total: int) -> Cell:
    percent = round(100 * met / total) if total else 0
    band = min(percent * len(BANDS) // 100, len(BANDS) - 1)
    return Cell(met=met, total=total, percent=percent, band=band)


def heat_map(system: SystemGapAnalysis) -> tuple[list[Area], list[HeatRow]]:
    """Members x areas: the share of each area's capabilities a member meets, from the system
    view's coverage (who meets each capability), members in alphabetical order. Like with
    like: a member's total counts only the capabilities that apply to its type (those whose
    coverage lists it, meeting or not), as its own analysis counts them."""
    areas = list(dict.fromkeys(c.area for c in system.capabilities))
    names: dict[str, str] = {}
    met: dict[tuple[str, Area], int] = {}
    applies: dict[tuple[str, Area], int] = {}
    for coverage in system.capabilities:
        for member in [*coverage.meeting, *coverage.not_meeting]:
            names[str(member.id)] = member.name
            key = (str(member.id), coverage.area)
            applies[key] = applies.get(key, 0) + 1
        for member in coverage.meeting:
            key = (str(member.id), coverage.area)
            met[key] = met.get(key, 0) + 1
    rows = [
        HeatRow(
            name=name,
            cells=[
                _cell(met.get((member_id, a), 0), applies.get((member_id, a), 0)) for a in areas
            ],
            met=sum(met.get((member_id, a), 0) for a in areas),
            total=sum(applies.get((member_id, a), 0) for a in areas),
        )
        for member_id, name in names.items()
    ]
    rows.sort(key=lambda r: r.name.casefold())
    return areas, rows


@dataclass(frozen=True)
class Strip:
    """One area against the organisation's type: the middle half of the group (lower to upper
    quartile) as a band, the median as a tick, the organisation's own score as a dot; or, when
    the group's figures are withheld, the dot alone and why."""

    label: str
    y: float
    own: float | None
    own_x: float | None
    lower_x: float | None
    median_x: float | None
    upper_x: float | None
    median: float | None
    n: int | None
    withheld: str | None


@dataclass(frozen=True)
class BenchmarkChart:
    width: int
    height: int
    label_width: int
    plot_width: int
    row_height: int
    ticks: list[tuple[int, float]]
    strips: list[Strip]

    @property
    def shown(self) -> int:
        return sum(1 for s in self.strips if s.withheld is None)


WITHHELD_WORDS = {
    WithheldReason.NO_SNAPSHOT: "no comparison taken yet",
    WithheldReason.TOO_FEW_ORGANISATIONS: "withheld: too few comparable organisations",
    WithheldReason.TOO_FEW_SYSTEMS: "withheld: comparable organisations from too few systems",
}


def benchmark_strips(benchmark: Benchmark) -> BenchmarkChart:
    """A strip per area on a 0-100 axis, as the area bars are."""
    label_width, plot_width, row_height, top = 190, 380, 42, 8

    def x(value: float | None) -> float | None:
        return None if value is None else round(label_width + plot_width * value / 100, 1)

    def strip(i: int, label: str, figure: Figure) -> Strip:
        reason = figure.withheld.reason if figure.withheld else None
        return Strip(
            label=label,
            y=top + i * row_height,
            own=figure.own_value,
            own_x=x(figure.own_value),
            lower_x=x(figure.lower_quartile),
            median_x=x(figure.median),
            upper_x=x(figure.upper_quartile),
            median=figure.median,
            n=figure.n,
            withheld=WITHHELD_WORDS[reason] if reason else None,
        )

    rows = [("Overall", benchmark.overall)] + [
        (AREA_LABELS.get(a.area, str(a.area)), a) for a in benchmark.areas
    ]
    strips = [strip(i, label, figure) for i, (label, figure) in enumerate(rows)]
    ticks = [(t, label_width + plot_width * t / 100) for t in (0, 25, 50, 75, 100)]
    return BenchmarkChart(
        width=label_width + plot_width + 50,
        height=top + len(strips) * row_height + 14,
        label_width=label_width,
        plot_width=plot_width,
        row_height=row_height,
        ticks=ticks,
        strips=strips,
    )
