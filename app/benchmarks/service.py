"""Benchmark use cases: where an organisation stands among organisations of its type.

Everything comes from the snapshot, the organisation's own value too: its position compares
like with like (one moment, one computation), and no change of the caller's records moves any
figure until the next snapshot. Only who is left out is read live (the caller's scope now)."""

import uuid
from collections.abc import Hashable
from datetime import datetime

from cachetools import LRUCache

from app import caches
from app.auth import access
from app.auth.principal import Principal
from app.benchmarks import queries, rule
from app.benchmarks.schemas import AreaFigure, Benchmark, CapabilityFigure, Figure, GroupKind
from app.benchmarks.snapshot import OVERALL, area_figure
from app.config import Settings
from app.db import ReadContext, reads_in
from app.organisations import hierarchy
from app.vocabulary import Area, OrganisationType

CAPABILITY = "capability:"


class Groups:
    """Each figure's group as the rule builds it for one target, summarised: the group's
    figure with no own value, and the quartiles an own value is placed against; ``empty``
    the rule's answer for a figure nobody else has."""

    def __init__(
        self,
        figures: dict[str, tuple[Figure, tuple[float, float, float] | None]],
        empty: Figure,
    ) -> None:
        self.figures = figures
        self.names = frozenset(figures)
        self.empty = empty

    def figure(self, name: str, own: float | None) -> Figure:
        base, quartiles = self.figures.get(name, (self.empty, None))
        placed = None if own is None or quartiles is None else rule.position(own, *quartiles)
        return base.model_copy(update={"own_value": own, "position": placed})


# A snapshot never changes once taken, and the entries behind a figure depend only on the
# type and on whom the rule leaves out: the groups are remembered per (snapshot, type, target)
# so that a national type (6,300 practices, 200,000 entries) is read and grouped once per
# system and snapshot, not on every request. A new snapshot has a new time: a new key.
groups_memo: LRUCache[Hashable, Groups] = caches.lru(caches.BENCHMARK_GROUPS)


def _group_key(
    taken_at: datetime | None,
    model: str | None,
    kind: OrganisationType,
    target: rule.Target,
    thresholds: rule.Thresholds,
) -> Hashable:
    # The organisation itself only matters in the scope-restricted mode: otherwise the whole
    # own system (which holds it) is left out already.
    who = target.organisation_id if target.within_scope else None
    return (
        taken_at,
        model,
        kind,
        target.system_id,
        target.is_demo,
        target.readable,
        target.within_scope,
        who,
        thresholds,
    )


def _groups(entries: list[rule.Entry], target: rule.Target, thresholds: rule.Thresholds) -> Groups:
    figures: dict[str, tuple[Figure, tuple[float, float, float] | None]] = {}
    for name, members in rule.by_figure(rule.group(entries, target)).items():
        base = rule.figure(None, members, target, thresholds)
        quartiles = None
        if base.withheld is None:
            quartiles = rule.quartiles([e.value for e in members])
        figures[name] = (base, quartiles)
    return Groups(figures, rule.figure(None, [], target, thresholds))


async def get(
    reads: ReadContext, *, principal: Principal, organisation_id: uuid.UUID, settings: Settings
) -> Benchmark:
    """The organisation's benchmark as this caller may see it (404 outside its scope)."""
    row = await access.organisation(reads, principal, organisation_id)
    async with reads.snapshot() as session:
        taken_at, model = await queries.taken(session)
        own_entries, own_kind = await queries.own_entries(session, organisation_id)
        own = {e.figure: e for e in own_entries}
        first = next(iter(own.values()), None)
        kind = own_kind or OrganisationType(row["organisation_type"])
        readable = None
        if principal.organisation_id is not None:
            readable = await queries.subtree_ids(session, principal.organisation_id)
        if first is not None:
            system_id, is_demo = first.system_id, first.is_demo
        else:
            lineage = await hierarchy.ancestor_ids(
                reads_in(session), organisation_id, include_self=True
            )
            system_id, is_demo = lineage[-1], bool(row.get("is_demo", False))
        target = rule.Target(
            organisation_id, system_id, is_demo, readable, settings.benchmark_within_scope
        )
        thresholds = rule.Thresholds(
            settings.benchmark_minimum_organisations, settings.benchmark_minimum_systems
        )
        key = _group_key(taken_at, model, kind, target, thresholds)
        groups = caches.hit(groups_memo, key)
        if groups is None:
            entries = await queries.entries_of_type(session, kind) if taken_at else []
            groups = _groups(entries, target, thresholds)
            groups_memo[key] = groups

    def figure(name: str) -> Figure:
        value = own[name].value if name in own else None
        if taken_at is None:
            return rule.no_snapshot(value)
        return groups.figure(name, None if value is None else round(value, 1))

    capability_keys = sorted(
        {name for name in own if name.startswith(CAPABILITY)}
        or ({name for name in groups.names if name.startswith(CAPABILITY)})
    )
    area_names = [
        a for a in Area if area_figure(a) in own or (not own and area_figure(a) in groups.names)
    ]
    return Benchmark(
        organisation_id=organisation_id,
        organisation_type=kind,
        is_demo=is_demo,
        group=GroupKind.SCOPE if settings.benchmark_within_scope else GroupKind.SERVICE,
        taken_at=taken_at,
        reference_model=model,
        minimum_organisations=thresholds.organisations,
        minimum_systems=0 if settings.benchmark_within_scope else thresholds.systems,
        overall=figure(OVERALL),
        areas=[AreaFigure(area=a, **figure(area_figure(a)).model_dump()) for a in area_names],
        capabilities=[
            CapabilityFigure(
                capability_key=name.removeprefix(CAPABILITY), **figure(name).model_dump()
            )
            for name in capability_keys
        ],
    )
