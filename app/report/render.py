"""The board report as one self-contained HTML page: a pure function of the report's models.

Jinja2 with autoescape on: every name a user typed (organisations, assets, labels) is escaped.
The page has no scripts, no event handlers and nothing external; its styles are one static
<style> block, so a Content-Security-Policy can allow exactly that block by its hash.
"""

from functools import cache

import jinja2
from markupsafe import Markup

from app.analysis.schemas import GapStatus
from app.csp import style_block_source
from app.report import charts, wording
from app.report.service import Report
from app.vocabulary import ORGANISATION_TYPE_NAMES, Audience

TOP_RECOMMENDATIONS = 5
# The plan table's rows (overdue first): a board reads the items it must act on, and the
# layout's cost grows with every row (1,500 took the PDF 35 s, in the one PDF lane per worker),
# while an import may give an organisation 100,000. The plan items export has every one.
PLAN_ROWS = 50
TOP_SYSTEM_RECOMMENDATIONS = 5


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("app.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        label=wording.label,
        maturity=wording.maturity,
        source=wording.source,
        why=wording.why,
        day=wording.day,
        timestamp=wording.timestamp,
        plain_reason=wording.plain_reason,
        points=lambda value: f"{value:g}",
    )
    return env


@cache
def stylesheet() -> str:
    source, _, _ = environment().loader.get_source(environment(), "report.css")  # type: ignore[union-attr]
    return source


@cache
def style_csp_source() -> str:
    """The CSP source expression that allows the page's one <style> block, and nothing else."""
    return style_block_source(stylesheet())


def html(report: Report, *, access_form: Markup = Markup(""), for_print: bool = False) -> str:
    """The page; ``access_form`` is the signed-link form (app.auth.browser) shown in its
    masthead when a link opened it, empty otherwise."""
    analysis, system = report.analysis, report.system
    open_keys = {r.capability_key for r in analysis.recommendations}
    enablers = [r for r in analysis.recommendations if r.national_enabler is not None]
    system_part = [
        r
        for r in analysis.recommendations
        if r.audience == Audience.SYSTEM and r.capability_key not in report.own_duties
    ]
    own_duties = [r for r in analysis.recommendations if r.capability_key in report.own_duties]
    met = [g for g in analysis.gaps if g.status == GapStatus.MET]
    heat_areas, heat_rows = charts.heat_map(system) if system else ([], [])
    titles = {g.capability_key: g.title for g in analysis.gaps}
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            organisation=report.organisation,
            analysis=analysis,
            system=system,
            css=stylesheet(),
            titles=titles,
            system_titles={c.capability_key: c.title for c in system.capabilities}
            if system
            else {},
            bars=charts.area_bars(analysis.summary.areas),
            against_type=charts.benchmark_strips(report.benchmark) if report.benchmark else None,
            types_name=wording.plural(ORGANISATION_TYPE_NAMES[report.benchmark.organisation_type])
            if report.benchmark
            else "",
            trend_line=charts.score_line(report.trend.history) if report.trend else None,
            system_trend_line=(
                charts.score_line(report.system_trend.history) if report.system_trend else None
            ),
            recommendations=analysis.recommendations[:TOP_RECOMMENDATIONS],
            more_recommendations=max(len(analysis.recommendations) - TOP_RECOMMENDATIONS, 0),
            system_recommendations=system.recommendations[:TOP_SYSTEM_RECOMMENDATIONS]
            if system
            else [],
            heat_areas=heat_areas,
            heat_rows=heat_rows,
            bands=charts.BANDS,
            recommendation_why=wording.recommendation_why,
            access_form=access_form,
            box11_first=wording.BOX11_FIRST,
            share=wording.share,
            plan=analysis.plan,
            plan_rows=analysis.plan.items[:PLAN_ROWS],
            more_plan_items=max(len(analysis.plan.items) - PLAN_ROWS, 0),
            review=analysis.review,
            enablers=enablers,
            system_part=system_part,
            own_duties=own_duties,
            met=met,
            open_keys=open_keys,
            help=report.help,
            for_print=for_print,
        )
    )
