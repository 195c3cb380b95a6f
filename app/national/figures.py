"""The national figures, worked out from every readable organisation's aggregated records in
one pass (pure: rows in, figures out). Each organisation is credited as its system's roll-up
credits a member (app.analysis.peers and credit: its own claims and those shared from above),
so a system's figures here are its system view's."""

import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from app.analysis import groups, loading
from app.analysis.credit import in_scope, states
from app.analysis.peers import AggregatedRows, claims_of
from app.analysis.profile import Profile, State
from app.analysis.schemas import GapStatus, ReferenceModelRef
from app.national.schemas import (
    CapabilityGroups,
    CoverageGroup,
    CoverageGroupBy,
    MemberCount,
    NationalCoverage,
    RecordCounts,
    SystemOverview,
)
from app.reference.schemas import ReferenceModelPublic
from app.vocabulary import OrganisationType

Member = tuple[Profile, dict[str, State]]


@dataclass(frozen=True)
class Recorded:
    """An organisation's record counts and when it or one of its records last changed."""

    assets: int = 0
    activities: int = 0
    last_changed: datetime | None = None


@dataclass(frozen=True)
class Listed:
    """A system's summary with the key the list is ordered and paged by."""

    created_at: datetime
    id: uuid.UUID
    overview: SystemOverview


@dataclass
class Figures:
    """What the national views answer from, for one state of the data and one model: the
    systems' summaries, and each organisation's state on every capability (coverage by a
    grouping is counted from them when first asked for, then kept with them)."""

    systems: list[Listed]
    members: list[Member]
    model: ReferenceModelPublic
    coverage: dict[CoverageGroupBy, NationalCoverage] = field(default_factory=dict)


def work_out(
    forest: loading.System,
    codes: Mapping[uuid.UUID, str | None],
    created: Mapping[uuid.UUID, datetime],
    rows: AggregatedRows,
    recorded: Mapping[uuid.UUID, Recorded],
    model: ReferenceModelPublic,
) -> Figures:
    """Every organisation's profile and states (CPU work: run it in a worker thread), then
    each top-level system's summary."""
    own, shared = claims_of(rows)
    profiles = loading.peer_profiles(forest, own, shared, forest.parents)
    members = [(p, states(p, model)) for p in profiles]
    by_id = {p.organisation.id: (p, s) for p, s in members}
    systems = []
    for root in _roots(forest):
        below = loading.subtree(forest, root)
        group = [by_id[m] for m in below]
        capabilities = [c for c in in_scope(model) if any(s[c.key].applicable for _, s in group)]
        figures = groups.scores(group, capabilities)
        everyone = [root, *below]
        kinds = Counter(forest.types[m] for m in below)
        systems.append(
            Listed(
                created[root],
                root,
                SystemOverview(
                    id=root,
                    name=forest.names[root],
                    organisation_type=forest.types[root],
                    ods_code=codes.get(root),
                    members=len(below),
                    members_by_type=_by_kind(kinds),
                    records=RecordCounts(
                        assets=sum(recorded.get(m, Recorded()).assets for m in everyone),
                        activities=sum(recorded.get(m, Recorded()).activities for m in everyone),
                    ),
                    reference_model=ReferenceModelRef(version=model.version),
                    overall_score=figures["overall_score"],
                    areas=figures["areas"],
                    last_changed_at=max(
                        stamp
                        for m in everyone
                        if (stamp := recorded.get(m, Recorded()).last_changed) is not None
                    ),
                ),
            )
        )
    systems.sort(key=lambda listed: (listed.created_at, listed.id))
    return Figures(systems, members, model)


def _roots(forest: loading.System) -> list[uuid.UUID]:
    """Organisations with no parent (in the caller's view) that have members."""
    parents = {parent for parent in forest.parents.values() if parent is not None}
    return [m for m, parent in forest.parents.items() if parent is None and m in parents]


def _by_kind(kinds: Counter[OrganisationType]) -> list[MemberCount]:
    ordered = sorted(kinds.items(), key=lambda item: (-item[1], item[0].value))
    return [MemberCount(organisation_type=kind, members=count) for kind, count in ordered]


_GROUPINGS: dict[CoverageGroupBy, Callable[[Profile], str | None]] = {
    CoverageGroupBy.ORGANISATION_TYPE: lambda p: (
        None if p.organisation_type is None else p.organisation_type.value
    ),
    CoverageGroupBy.SECTOR: lambda p: groups.sector(p).value,
    CoverageGroupBy.REGION: lambda p: p.region,
}
_PARTIAL = frozenset({GapStatus.NEEDS_DEVELOPMENT, GapStatus.BLOCKED})


def coverage(found: Figures, group_by: CoverageGroupBy) -> NationalCoverage:
    """Each in-scope capability's coverage by group: groups in alphabetical order, no region
    recorded last (as the system view groups its members)."""
    key = _GROUPINGS[group_by]
    grouped: dict[str | None, list[Member]] = {}
    for member in found.members:
        grouped.setdefault(key(member[0]), []).append(member)
    order = sorted(grouped, key=lambda name: (name is None, str(name)))
    capabilities = []
    for capability in in_scope(found.model):
        rows = []
        for name in order:
            statuses = Counter(s[capability.key].status for _, s in grouped[name])
            met = statuses[GapStatus.MET]
            applicable = len(grouped[name]) - statuses[GapStatus.NOT_APPLICABLE]
            rows.append(
                CoverageGroup(
                    group=name,
                    organisations=len(grouped[name]),
                    applicable=applicable,
                    meeting=met,
                    partial=sum(statuses[status] for status in _PARTIAL),
                    missing=statuses[GapStatus.MISSING],
                    coverage=round(met / applicable, 4) if applicable else None,
                )
            )
        capabilities.append(
            CapabilityGroups(
                capability_key=capability.key,
                area=capability.area,
                title=capability.title,
                groups=rows,
            )
        )
    return NationalCoverage(
        reference_model=ReferenceModelRef(version=found.model.version),
        group_by=group_by,
        organisations=len(found.members),
        capabilities=capabilities,
    )
