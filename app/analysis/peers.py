"""What the rest of a system has, remembered per process while the system's records do not
change: the per-organisation analysis of a member of a 200-member ICS otherwise re-reads and
re-credits every other member's records (about 20,000 assets) only to say who already meets
each capability (``availableInSystem``).

Whether the records changed is read in the analysis's own snapshot, with the tree: a revision
number per organisation that database triggers bump on every insert, change or delete of its
assets and activities, whichever path wrote them (an aggregate over the system's 28,000 rows
cost 19 ms per analysis). A move or a rename changes the tree read in the same snapshot. Any
of them misses the cache, on every instance, so an analysis never shows anything the
database no longer says. The key also holds the exact set of organisations the caller may
see, so a remembered answer never crosses a scope.
"""

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import anyio
from cachetools import LRUCache
from sqlalchemy import ColumnElement, Select, String, Uuid, bindparam, func, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app import caches
from app.analysis import loading
from app.analysis.credit import ACTIVITY_MATURITY, met_keys
from app.analysis.loading import System
from app.analysis.profile import Claim
from app.analysis.schemas import OrganisationRef
from app.db import fetch, fetch_in_transaction, prebuilt, reads_in, sessions_of
from app.models import Activity, Asset
from app.reference.schemas import ReferenceModelPublic
from app.singleflight import SingleFlight
from app.vocabulary import ActivityStatus, CapabilityKind, Confidence


@dataclass(frozen=True)
class SystemClaims:
    """Every organisation's aggregated claims, and what each shares with its members."""

    own: dict[uuid.UUID, list[Claim]]
    shared: dict[uuid.UUID, list[Claim]]


Met = list[tuple[OrganisationRef, frozenset[str]]]
MetByOrganisation = dict[uuid.UUID, tuple[OrganisationRef, frozenset[str]]]

# Per process (bounds in app.caches).
claims_memo: LRUCache[Hashable, SystemClaims] = caches.lru(caches.SYSTEM_CLAIMS)
met_memo: LRUCache[Hashable, MetByOrganisation] = caches.lru(caches.SYSTEM_MET)
# What each organisation meets, by everything it is worked out from (``_member_key``): after
# a change to one member, only that member is read and credited again, not the whole system
# (a 400-member ICS: 14,000 assets, half a second or more).
member_met: LRUCache[Hashable, frozenset[str]] = caches.lru(caches.MEMBER_MET)
rosters: LRUCache[Hashable, "Roster"] = caches.lru(caches.SYSTEM_ROSTERS)
organisation_rows: LRUCache[Hashable, tuple[tuple[Any, ...], tuple[Any, ...]]] = caches.lru(
    caches.ORGANISATION_ROWS
)

# Who meets what, being worked out: the first analysis to need it works it out, in a worker
# thread; the others that need it meanwhile wait for that one instead of repeating it.
_working_out: SingleFlight[MetByOrganisation] = SingleFlight()


@dataclass(frozen=True)
class Others:
    """The other organisations of a system, and what is already known of their records."""

    system: System
    others: list[uuid.UUID]
    state: Hashable
    key: Hashable  # the state and the model
    met: MetByOrganisation | None = None  # remembered
    running: "asyncio.Task[MetByOrganisation] | None" = None  # or being worked out
    claims: "SystemClaims | AggregatedRows | None" = None  # or what to work it out from
    # Each organisation's key in ``member_met``, and what of it is remembered there: when
    # some are, ``claims`` holds the rows of the others (and their ancestors) only.
    member_keys: dict[uuid.UUID, Hashable] = field(default_factory=dict)
    known: dict[uuid.UUID, frozenset[str]] = field(default_factory=dict)


async def others_of(
    session: AsyncSession,
    system: System,
    organisation_id: uuid.UUID,
    state: Hashable,
    model_key: Hashable,
) -> Others | None:
    """Read in the analysis's snapshot: only what is not remembered already."""
    others = [m for m in system.parents if m != organisation_id]
    if not others:  # an organisation on its own has no one to spread from
        return None
    key = (state, model_key)
    found = Others(system, others, state, key)
    met = caches.hit(met_memo, key)
    if met is not None:
        return replace(found, met=met)
    running = _working_out.running(key)
    if running is not None:
        return replace(found, running=running)
    remembered = caches.hit(claims_memo, state)
    if remembered is not None:
        return replace(found, claims=remembered)
    member_keys = {m: _member_key(state, system, m, model_key) for m in system.parents}
    known = {m: hit for m, k in member_keys.items() if (hit := caches.hit(member_met, k))}
    found = replace(found, member_keys=member_keys, known=known)
    if not known:
        return replace(found, claims=await aggregated_rows(session, system))
    # A change to one member: read only the organisations whose records (or whose
    # ancestors' shared records) changed since, and their ancestors for what they inherit.
    missing = [m for m in system.parents if m not in known]
    if not missing:  # only a name, a date or the tree's shape changed: nothing to read
        return replace(found, claims=AggregatedRows((), ()))
    wanted = set(missing) | {a for m in missing for a in system.ancestors(m)}
    return replace(found, claims=await aggregated_rows(session, system, only=wanted))


async def who_meets_what(found: Others | None, model: ReferenceModelPublic) -> Met:
    """The others and the capabilities each meets, by name (after the snapshot has closed)."""
    if found is None:
        return []
    met = found.met
    if met is None:
        if found.running is not None:
            # Shielded: a caller that goes away does not cancel the work others wait for.
            met = await asyncio.shield(found.running)
        else:
            met = await _working_out.do(found.key, lambda: _work_out(found, model))
    others = set(found.others)
    return [met[m] for m in _roster(found).order if m in others]


@dataclass(frozen=True)
class Roster:
    """A system's organisations by name (the order ``availableInSystem`` lists them in) and
    each one's reference: they change only with the tree and the names, not with records,
    so after a change to one member's records they are not built again for the other 400."""

    order: tuple[uuid.UUID, ...]
    refs: dict[uuid.UUID, OrganisationRef]


def _roster(found: Others) -> Roster:
    state = found.state
    # The database, the root, the tree and the names (see state_of): what a roster depends on.
    key = state[:4] if isinstance(state, tuple) else state
    roster = caches.hit(rosters, key)
    if roster is None:
        system = found.system
        names = system.names
        roster = Roster(
            tuple(sorted(system.parents, key=lambda m: (names[m], str(m)))),
            # Built without validation: the id and the name are as the database holds them.
            {m: OrganisationRef.model_construct(id=m, name=names[m]) for m in system.parents},
        )
        rosters[key] = roster
    return roster


# Up to this many organisations to credit, the work is done on the event loop: crediting one
# takes well under a millisecond, less than the hop to a worker thread and back (after a
# change to one member of a 400-member system, the hop was a fifth of its analysis).
_INLINE = 8


async def _work_out(found: Others, model: ReferenceModelPublic) -> MetByOrganisation:
    assert found.claims is not None
    missing = len(found.system.parents) - len(found.known)
    refs = _roster(found).refs  # on the event loop: the caches are not for worker threads
    if missing <= _INLINE:
        claims, met = _met_keys(found, found.claims, model, refs)
    else:
        claims, met = await anyio.to_thread.run_sync(_met_keys, found, found.claims, model, refs)
    if not found.known:  # the claims of a part of the system are not the system's claims
        claims_memo[found.state] = claims
    # Only the newly worked out: the others were read from member_met just now.
    for member, key in found.member_keys.items():
        if member not in found.known:
            member_met[key] = met[member][1]
    met_memo[found.key] = met
    return met


def _met_keys(
    found: Others,
    claims: "SystemClaims | AggregatedRows",
    model: ReferenceModelPublic,
    refs: dict[uuid.UUID, OrganisationRef],
) -> tuple[SystemClaims, MetByOrganisation]:
    built = claims if isinstance(claims, SystemClaims) else SystemClaims(*claims_of(claims))
    system = found.system
    missing = [m for m in system.parents if m not in found.known]
    worked = loading.peer_profiles(system, built.own, built.shared, missing)
    met = {p.organisation.id: (p.organisation, met_keys(p, model)) for p in worked}
    met |= {m: (refs[m], keys) for m, keys in found.known.items()}
    return built, met


def _member_key(
    state: Hashable, system: System, member: uuid.UUID, model_key: Hashable
) -> Hashable:
    """What one organisation meets depends on its own records, the records its ancestors
    share with it, its type and the model: each named by what the database counts (the
    records revisions) or the tree holds, so any change to any of them is a new key."""
    database = state[0] if isinstance(state, tuple) else state
    lineage = tuple((a, system.revisions.get(a)) for a in system.ancestors(member))
    return (
        database,
        member,
        system.revisions.get(member),
        lineage,
        system.types[member],
        model_key,
    )


async def system_claims(
    session: AsyncSession, system: System, state: Hashable
) -> "SystemClaims | AggregatedRows":
    """Read in the snapshot: the claims if remembered, else the rows to build them from."""
    return caches.hit(claims_memo, state) or await aggregated_rows(session, system)


async def claims_from(found: "SystemClaims | AggregatedRows", state: Hashable) -> SystemClaims:
    """The claims, built in a worker thread from the rows if need be (CPU work)."""
    if isinstance(found, SystemClaims):
        return found
    claims = SystemClaims(*await anyio.to_thread.run_sync(claims_of, found))
    claims_memo[state] = claims
    return claims


def state_of(database: Hashable, system: System) -> Hashable:
    """A key that changes whenever what the system's records say may have changed: the tree
    (a move or a rename) and each organisation's records revision, which the database bumps
    on every insert, change or delete of its assets, activities and assessments (read with
    the tree, in the analysis's snapshot, so no query of its own), and each organisation's
    next review date, an organisation field no revision counts. ``database`` tells apart
    the databases one process may talk to (the tests' two), whose numbers could agree."""
    return (
        database,
        system.root_id,
        frozenset(system.parents.items()),
        frozenset(system.names.items()),
        frozenset(system.types.items()),
        frozenset(system.revisions.items()),
        frozenset(system.review_due.items()),
        frozenset(system.regions.items()),
    )


@dataclass(frozen=True)
class AggregatedRows:
    """The system's records reduced in SQL, as read: turned into claims by ``claims_of``
    after the read transaction has closed (building 20,000 claims is CPU work)."""

    assets: Sequence[Any]
    activities: Sequence[Any]


def _aggregated_assets(where: ColumnElement[bool]) -> Select[Any]:
    """The best maturity of each group of an organisation's assets that the evidence rules
    tell apart (what a claim is made of)."""
    keys = (
        col(Asset.organisation_id),
        col(Asset.capability_key),
        type_coerce(col(Asset.confidence), String).label("confidence"),
        loading.has_links(col(Asset.evidence)),
        col(Asset.reviewed_by).is_not(None),
        col(Asset.shared_with_members),
    )
    statement = sa_select(*keys, func.max(col(Asset.maturity)))
    statement = statement.where(where, col(Asset.capability_key).is_not(None))
    return cast(Select[Any], statement.group_by(*keys))


def _aggregated_activities(where: ColumnElement[bool]) -> Select[Any]:
    # For an activity, an outcome and an evidence link prove the same thing: the work happened.
    has_outcome = col(Activity.outcome).is_not(None) | loading.has_links(col(Activity.evidence))
    keys = (
        col(Activity.organisation_id),
        col(Activity.capability_key),
        type_coerce(col(Activity.status), String).label("status"),
        has_outcome,
    )
    statement = sa_select(*keys).where(where, col(Activity.capability_key).is_not(None))
    return cast(Select[Any], statement.group_by(*keys))


# One organisation's, run by the driver (app.db.fetch): after a change to one member, only it
# and those above it are read, and as a statement built per call and run through SQLAlchemy's
# execution that read cost 2.5 ms of a member's first analysis.
_ONE = bindparam("organisation_id", type_=Uuid)
ONE_ASSETS = prebuilt(
    "analysis.aggregated_assets", _aggregated_assets(col(Asset.organisation_id) == _ONE)
)
ONE_ACTIVITIES = prebuilt(
    "analysis.aggregated_activities", _aggregated_activities(col(Activity.organisation_id) == _ONE)
)
# Up to this many organisations are read one at a time, by the statements above.
_ONE_BY_ONE = 8


async def aggregated_rows(
    session: AsyncSession, system: System, *, only: set[uuid.UUID] | None = None
) -> AggregatedRows:
    """Per organisation of the system (or of ``only``): the best maturity for each
    capability and each combination of what the evidence rules tell apart."""
    # The ids are already known: a plain IN list is much cheaper than re-walking the tree.
    organisation_ids = list(system.parents if only is None else only)
    if len(organisation_ids) <= _ONE_BY_ONE:
        reads = reads_in(session)
        database = sessions_of(session).identity
        assets: list[Any] = []
        activities: list[Any] = []
        for organisation_id in organisation_ids:
            # An organisation's rows at one revision never change (the database bumps it on
            # every change to its records): those above a changed member are read once.
            key = (database, organisation_id, system.revisions.get(organisation_id))
            found = caches.hit(organisation_rows, key)
            if found is None:
                one = {"organisation_id": organisation_id}
                found = (
                    tuple(tuple(row.values()) for row in await fetch(reads, ONE_ASSETS, one)),
                    tuple(tuple(row.values()) for row in await fetch(reads, ONE_ACTIVITIES, one)),
                )
                organisation_rows[key] = found
            assets += found[0]
            activities += found[1]
        return AggregatedRows(assets, activities)
    within = col(Asset.organisation_id).in_(organisation_ids)
    return AggregatedRows(
        await fetch_in_transaction(session, _aggregated_assets(within)),
        await fetch_in_transaction(
            session, _aggregated_activities(col(Activity.organisation_id).in_(organisation_ids))
        ),
    )


def claims_of(
    rows: AggregatedRows,
) -> tuple[dict[uuid.UUID, list[Claim]], dict[uuid.UUID, list[Claim]]]:
    """Per organisation: its claims per capability, and those it shares with its members."""
    own: dict[uuid.UUID, list[Claim]] = defaultdict(list)
    shared: dict[uuid.UUID, list[Claim]] = defaultdict(list)
    for organisation_id, key, confidence, linked, is_reviewed, is_shared, best in rows.assets:
        claim = Claim(
            key,
            int(best),
            Confidence(confidence),
            CapabilityKind.ASSET,
            organisation_id,
            evidence_links=int(bool(linked)),
            reviewed=bool(is_reviewed),
        )
        own[organisation_id].append(claim)
        if is_shared:
            shared[organisation_id].append(claim)
    for organisation_id, key, status, outcome in rows.activities:
        own[organisation_id].append(
            Claim(
                key,
                ACTIVITY_MATURITY[ActivityStatus(status)],
                None,
                CapabilityKind.ACTIVITY,
                organisation_id,
                has_outcome=bool(outcome),
            )
        )
    return own, shared
