"""The national figures (pure: rows in, figures out; the one read is of the crediting code's
own source, once, for the digest a kept standing is checked against).

Each organisation is credited as its system's roll-up credits a member (app.analysis.peers and
credit: its own claims and those shared from above it), and kept as a ``Standing``: its
status on every capability and its scores, which depend on nothing but its own records, those
its ancestors share, its kind and the model. So a change works out again only the
organisations it touches; the national answers are then counted from the standings."""

import hashlib
import importlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from app.analysis import groups, loading
from app.analysis.credit import in_scope, states
from app.analysis.peers import AggregatedRows, claims_of
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
from app.vocabulary import SECTORS, OrganisationType, Sector

STATUSES = tuple(GapStatus)
_PARTIAL = (GapStatus.NEEDS_DEVELOPMENT, GapStatus.BLOCKED)


@dataclass(frozen=True, slots=True)
class Recorded:
    """An organisation's record counts and when one of its records last changed."""

    assets: int = 0
    activities: int = 0
    last_changed: datetime | None = None


@dataclass(frozen=True, slots=True)
class Standing:
    """Where one organisation stands: its status on each in-scope capability of the model
    (an index into STATUSES, in the model's order), its scores, its records."""

    statuses: tuple[int, ...]
    scores: groups.MemberScores
    recorded: Recorded


def standings(
    forest: loading.System,
    organisations: Sequence[uuid.UUID],
    rows: AggregatedRows,
    recorded: Mapping[uuid.UUID, Recorded],
    model: ReferenceModelPublic,
) -> dict[uuid.UUID, Standing]:
    """The standings of ``organisations`` from the aggregated records of them and of those
    above them (``rows``). CPU work: run it in a worker thread."""
    own, shared = claims_of(rows)
    capabilities = in_scope(model)
    index = {status: position for position, status in enumerate(STATUSES)}
    found = {}
    for profile in loading.peer_profiles(forest, own, shared, organisations):
        state = states(profile, model)
        found[profile.organisation.id] = Standing(
            tuple(index[state[c.key].status] for c in capabilities),
            groups.member_scores(state, capabilities),
            recorded.get(profile.organisation.id, Recorded()),
        )
    return found


# ---- Kept in the database (app.models.OrganisationStanding) ---------------------------------

# What works a standing out: any change to these modules' code may change one, so it is part
# of the digest a kept standing is checked against (a new release never uses an old one).
_WORKED_OUT_BY = (
    "app.analysis.credit",
    "app.analysis.scoring",
    "app.analysis.profile",
    "app.analysis.groups",
    "app.analysis.loading",
    "app.analysis.peers",
    # Whom a capability applies to and its targets (Capability.applies, target_for), the
    # rules' defaults, the vocabulary's orders, and GapStatus (a kept status is its index).
    "app.reference.schemas",
    "app.reference.rules",
    "app.vocabulary",
    "app.analysis.schemas",
    # What a standing's records and its inputs are read by (record_counts, shared_claims).
    "app.national.queries",
    "app.national.service",
    __name__,
)


@cache
def _code() -> str:
    digest = hashlib.sha256()
    for name in _WORKED_OUT_BY:
        path = getattr(importlib.import_module(name), "__file__", None)
        digest.update(Path(path).read_bytes() if path else name.encode())
    return digest.hexdigest()


def model_digest(model: ReferenceModelPublic) -> str:
    """The model's content, as a standing depends on it (a model deleted and made again with
    the same version and row version is another model)."""
    return hashlib.sha256(model.model_dump_json().encode()).hexdigest()


def inputs_digest(inputs: Hashable, model: str) -> str:
    """The digest a kept standing is used by: the organisation's own inputs (its kind, its
    records revision, what those above it share with it), the model's digest, the code."""
    text = json.dumps([_code(), model, inputs], default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def as_row(standing: Standing) -> dict[str, Any]:
    """A standing as OrganisationStanding's columns (but its keys and digest)."""
    overall, areas = standing.scores
    return {
        "statuses": "".join(str(status) for status in standing.statuses),
        "scores": json.dumps([overall, list(areas)]),
        "assets": standing.recorded.assets,
        "activities": standing.recorded.activities,
        "last_changed": standing.recorded.last_changed,
    }


def from_row(row: Mapping[str, Any]) -> Standing:
    overall, areas = json.loads(row["scores"])
    return Standing(
        tuple(map(int, row["statuses"])),
        (overall, tuple(areas)),
        Recorded(int(row["assets"]), int(row["activities"]), row["last_changed"]),
    )


@dataclass(frozen=True)
class Listed:
    """A system's summary with the key the list is ordered and paged by."""

    created_at: datetime
    id: uuid.UUID
    overview: SystemOverview


@dataclass
class Figures:
    """What the national views answer from, for one state of the data and one model."""

    systems: list[Listed]
    forest: loading.System
    standing: dict[uuid.UUID, Standing]
    model: ReferenceModelPublic
    coverage: dict[CoverageGroupBy, NationalCoverage] = field(default_factory=dict)


def assemble(
    forest: loading.System,
    codes: Mapping[uuid.UUID, str | None],
    created: Mapping[uuid.UUID, datetime],
    changed: Mapping[uuid.UUID, datetime],
    standing: dict[uuid.UUID, Standing],
    model: ReferenceModelPublic,
) -> Figures:
    """Each top-level system's summary from its organisations' standings, oldest first."""
    systems = []
    reference = ReferenceModelRef(version=model.version)
    children = loading.children_of(forest)
    for root in _roots(forest):
        below = loading.subtree(forest, root, children)
        everyone = [root, *below]
        figures = groups.mean_scores([standing[m].scores for m in below])
        records = [standing[m].recorded for m in everyone]
        stamps = [changed[m] for m in everyone]
        stamps += [r.last_changed for r in records if r.last_changed is not None]
        overview = SystemOverview(
            id=root,
            name=forest.names[root],
            organisation_type=forest.types[root],
            ods_code=codes.get(root),
            members=len(below),
            members_by_type=_by_kind(Counter(forest.types[m] for m in below)),
            records=RecordCounts(
                assets=sum(r.assets for r in records),
                activities=sum(r.activities for r in records),
            ),
            reference_model=reference,
            overall_score=figures["overall_score"],
            areas=figures["areas"],
            last_changed_at=max(stamps),
        )
        systems.append(Listed(created[root], root, overview))
    systems.sort(key=lambda listed: (listed.created_at, listed.id))
    return Figures(systems, forest, standing, model)


def _roots(forest: loading.System) -> list[uuid.UUID]:
    """Organisations with no parent (in the caller's view) that have members."""
    parents = {parent for parent in forest.parents.values() if parent is not None}
    return [m for m, parent in forest.parents.items() if parent is None and m in parents]


def _by_kind(kinds: Counter[OrganisationType]) -> list[MemberCount]:
    ordered = sorted(kinds.items(), key=lambda item: (-item[1], item[0].value))
    return [MemberCount(organisation_type=kind, members=count) for kind, count in ordered]


def _sector(kind: OrganisationType) -> str:
    return SECTORS.get(kind, Sector.OTHER).value


_GROUPINGS: dict[CoverageGroupBy, Callable[[loading.System, uuid.UUID], str | None]] = {
    CoverageGroupBy.ORGANISATION_TYPE: lambda forest, m: forest.types[m].value,
    CoverageGroupBy.SECTOR: lambda forest, m: _sector(forest.types[m]),
    CoverageGroupBy.REGION: lambda forest, m: forest.regions.get(m),
}


def coverage(found: Figures, group_by: CoverageGroupBy) -> NationalCoverage:
    """Each in-scope capability's coverage by group: groups in alphabetical order, no region
    recorded last (as the system view groups its members)."""
    key = _GROUPINGS[group_by]
    capabilities = in_scope(found.model)
    grouped: dict[str | None, list[tuple[int, ...]]] = {}
    for organisation, standing in found.standing.items():
        grouped.setdefault(key(found.forest, organisation), []).append(standing.statuses)
    order = sorted(grouped, key=lambda name: (name is None, str(name)))
    # Per group, per capability: its organisations' statuses as one tuple, counted in C.
    columns = {name: list(zip(*grouped[name], strict=True)) for name in order}
    met, missing = STATUSES.index(GapStatus.MET), STATUSES.index(GapStatus.MISSING)
    outside = STATUSES.index(GapStatus.NOT_APPLICABLE)
    partial = [STATUSES.index(status) for status in _PARTIAL]
    listed = []
    for position, capability in enumerate(capabilities):
        rows = []
        for name in order:
            column = columns[name][position]
            size = len(column)
            applicable = size - column.count(outside)
            meeting = column.count(met)
            rows.append(
                CoverageGroup(
                    group=name,
                    organisations=size,
                    applicable=applicable,
                    meeting=meeting,
                    partial=sum(column.count(p) for p in partial),
                    missing=column.count(missing),
                    coverage=round(meeting / applicable, 4) if applicable else None,
                )
            )
        listed.append(
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
        organisations=len(found.standing),
        capabilities=listed,
    )
