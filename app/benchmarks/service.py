"""Benchmark use cases: where an organisation stands among organisations of its type.

Everything comes from the snapshot, the organisation's own value too: its position compares
like with like (one moment, one computation), and no change of the caller's records moves any
figure until the next snapshot. Only who is left out is read live (the caller's scope now)."""

import uuid

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
        entries = await queries.entries_of_type(session, kind) if taken_at else []
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
    grouped = rule.by_figure(rule.group(entries, target))

    def figure(name: str) -> Figure:
        value = own[name].value if name in own else None
        if taken_at is None:
            return rule.no_snapshot(value)
        return rule.figure(
            None if value is None else round(value, 1), grouped.get(name, []), target, thresholds
        )

    capability_keys = sorted(
        {name for name in own if name.startswith(CAPABILITY)}
        or ({name for name in grouped if name.startswith(CAPABILITY)})
    )
    area_names = [
        a for a in Area if area_figure(a) in own or (not own and area_figure(a) in grouped)
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
