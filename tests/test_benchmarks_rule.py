"""The disclosure rule as pure functions: who is in a group, when a figure is withheld, and
the quartiles and position of what is shown."""

import uuid

from app.benchmarks.rule import Entry, Target, Thresholds, figure, group, position
from app.benchmarks.schemas import AreaFigure, Benchmark, GroupKind, Position, WithheldReason
from app.report.charts import benchmark_strips
from app.report.wording import plural
from app.vocabulary import Area, OrganisationType

FIVE_FROM_TWO = Thresholds(organisations=5, systems=2)
OWN_SYSTEM = uuid.uuid4()


def entry(value: float, system: uuid.UUID, *, demo: bool = False, out: bool = False) -> Entry:
    return Entry(uuid.uuid4(), "overall", system, demo, out, value)


def target(
    readable: frozenset[uuid.UUID] | None = frozenset(), *, demo: bool = False, scope: bool = False
) -> Target:
    return Target(uuid.uuid4(), OWN_SYSTEM, demo, readable, scope)


def test_the_group_leaves_out_what_the_caller_reads_opted_out_and_the_other_world() -> None:
    other = uuid.uuid4()
    counted = entry(10, other)
    readable = entry(20, other)
    opted_out = entry(30, other, out=True)
    demo = entry(40, other, demo=True)
    caller = target(frozenset({readable.organisation_id}))
    found = group([counted, readable, opted_out, demo], caller)
    assert found == [counted]
    # Demo data is compared with demo data only.
    assert group([counted, demo], target(demo=True)) == [demo]


def test_a_global_caller_is_compared_as_its_organisation_s_system_would_be() -> None:
    own, other = entry(10, OWN_SYSTEM), entry(20, uuid.uuid4())
    assert group([own, other], target(None)) == [other]


def test_the_scope_restricted_mode_counts_only_what_the_caller_reads() -> None:
    inside, outside = entry(10, uuid.uuid4()), entry(20, uuid.uuid4())
    caller = target(frozenset({inside.organisation_id}), scope=True)
    assert group([inside, outside], caller) == [inside]


def test_a_figure_needs_five_organisations_from_two_other_systems() -> None:
    one, two = uuid.uuid4(), uuid.uuid4()
    four = [entry(v, one if v < 3 else two) for v in (1, 2, 3, 4)]
    tiny = figure(2.0, four, target(), FIVE_FROM_TWO)
    assert tiny.withheld is not None
    assert tiny.withheld.reason == WithheldReason.TOO_FEW_ORGANISATIONS
    assert tiny.withheld.needed == 5
    # Nothing of the group shows: neither its figures nor its size.
    assert (tiny.median, tiny.lower_quartile, tiny.n, tiny.systems) == (None,) * 4
    assert tiny.own_value == 2.0

    narrow = figure(2.0, [entry(v, one) for v in range(5)], target(), FIVE_FROM_TWO)
    assert narrow.withheld is not None
    assert narrow.withheld.reason == WithheldReason.TOO_FEW_SYSTEMS
    # Were members of the organisation's own system in a group, they would never count towards
    # the other systems (``group`` leaves them out in any case).
    own_and_one = [entry(v, OWN_SYSTEM) for v in range(3)] + [entry(9, one), entry(8, one)]
    assert figure(1.0, own_and_one, target(), FIVE_FROM_TWO).withheld is not None

    shown = figure(2.0, [*four, entry(5, two)], target(), FIVE_FROM_TWO)
    assert shown.withheld is None
    assert (shown.lower_quartile, shown.median, shown.upper_quartile) == (2.0, 3.0, 4.0)
    assert (shown.n, shown.systems) == (5, 2)
    assert shown.position == Position.LOWER_QUARTILE_TO_MEDIAN


def test_positions_by_quartile() -> None:
    assert position(1, 2, 3, 4) == Position.BELOW_LOWER_QUARTILE
    assert position(2, 2, 3, 4) == Position.LOWER_QUARTILE_TO_MEDIAN
    assert position(3, 2, 3, 4) == Position.MEDIAN_TO_UPPER_QUARTILE
    assert position(4, 2, 3, 4) == Position.MEDIAN_TO_UPPER_QUARTILE
    assert position(5, 2, 3, 4) == Position.ABOVE_UPPER_QUARTILE


def test_the_report_s_strips_place_the_quartiles_and_say_when_withheld() -> None:
    other = uuid.uuid4()
    group_of_five = [entry(v, other if v % 2 else uuid.uuid4()) for v in (20, 40, 60, 80, 100)]
    shown = figure(50.0, group_of_five, target(), FIVE_FROM_TWO)
    withheld = figure(30.0, group_of_five[:2], target(), FIVE_FROM_TWO)
    benchmark = Benchmark(
        organisation_id=uuid.uuid4(),
        organisation_type=OrganisationType.ACUTE_TRUST,
        is_demo=False,
        group=GroupKind.SERVICE,
        taken_at=None,
        reference_model="2026.2",
        minimum_organisations=5,
        minimum_systems=2,
        overall=shown,
        areas=[AreaFigure(area=Area.DATA, **withheld.model_dump())],
        capabilities=[],
    )
    chart = benchmark_strips(benchmark)
    overall, data = chart.strips
    # 0-100 across 380 points after a 190-point label column.
    assert (overall.lower_x, overall.median_x, overall.upper_x) == (342.0, 418.0, 494.0)
    assert overall.own_x == 380.0
    assert overall.withheld is None
    assert (data.median_x, data.own_x) == (None, 304.0)
    assert data.withheld == "withheld: too few comparable organisations"
    assert chart.shown == 1
    assert plural("local authority") == "local authorities"
    assert plural("GP practice") == "GP practices"


def test_the_organisation_s_own_system_is_left_out_whoever_asks() -> None:
    """A caller scoped to one member cannot read its siblings, but whoever minted its key can:
    the siblings never stand behind the figure."""
    sibling, other = entry(0, OWN_SYSTEM), entry(20, uuid.uuid4())
    assert group([sibling, other], target(frozenset())) == [other]
