"""The disclosure rule, as pure functions of the snapshot's entries (docs/security.md,
"Benchmarks: the disclosure rule"). No I/O: the service reads, this decides what may be shown.
"""

import statistics
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from app.benchmarks.schemas import Figure, Position, Withheld, WithheldReason


@dataclass(frozen=True)
class Entry:
    """One organisation's value of one figure, as the snapshot holds it."""

    organisation_id: uuid.UUID
    figure: str
    system_id: uuid.UUID
    is_demo: bool
    opted_out: bool
    value: float


@dataclass(frozen=True)
class Thresholds:
    organisations: int
    systems: int


@dataclass(frozen=True)
class Target:
    """The organisation benchmarked, and whom the group must leave out."""

    organisation_id: uuid.UUID
    system_id: uuid.UUID
    is_demo: bool
    # The organisations the caller can read (None: every one, a global caller); in the
    # default mode they are left out, in the scope-restricted mode only they are counted.
    readable: frozenset[uuid.UUID] | None
    within_scope: bool


def group(entries: Iterable[Entry], target: Target) -> list[Entry]:
    """The entries that may stand behind a figure: the same world (demo or real), not opted
    out, never the organisation itself; outside the organisation's own system and the caller's
    readable organisations, or, in the scope-restricted mode, inside the readable ones.

    The whole own system is left out whoever asks, not only what the caller reads: an admin
    can mint a key scoped to one member, and the siblings it reads and sets would then count
    towards the five, moving the quartiles onto a single other organisation's value."""
    found = []
    for entry in entries:
        if entry.organisation_id == target.organisation_id or entry.opted_out:
            continue
        if entry.is_demo != target.is_demo:
            continue
        if target.within_scope:
            inside = target.readable is None or entry.organisation_id in target.readable
            if not inside:
                continue
        elif entry.system_id == target.system_id:
            continue
        elif target.readable is not None and entry.organisation_id in target.readable:
            continue  # moved into the caller's scope since the snapshot
        found.append(entry)
    return found


def _withheld(n: int, systems: int, thresholds: Thresholds, within_scope: bool) -> Withheld | None:
    if n < thresholds.organisations:
        return Withheld(
            reason=WithheldReason.TOO_FEW_ORGANISATIONS,
            needed=thresholds.organisations,
            detail=f"Shown only when at least {thresholds.organisations} comparable "
            "organisations stand behind it, and fewer do.",
        )
    if not within_scope and systems < thresholds.systems:
        return Withheld(
            reason=WithheldReason.TOO_FEW_SYSTEMS,
            needed=thresholds.systems,
            detail=f"Shown only when the organisations behind it come from at least "
            f"{thresholds.systems} systems other than this organisation's own, and they do not.",
        )
    return None


def position(value: float, lower: float, median: float, upper: float) -> Position:
    if value < lower:
        return Position.BELOW_LOWER_QUARTILE
    if value < median:
        return Position.LOWER_QUARTILE_TO_MEDIAN
    if value <= upper:
        return Position.MEDIAN_TO_UPPER_QUARTILE
    return Position.ABOVE_UPPER_QUARTILE


def figure(
    own: float | None, members: Collection[Entry], target: Target, thresholds: Thresholds
) -> Figure:
    """One figure: the group's median and quartiles and the organisation's position, or,
    when the group is too small or too narrow, nothing of the group but why."""
    n = len(members)
    systems = len({e.system_id for e in members} - {target.system_id})
    withheld = _withheld(n, systems, thresholds, target.within_scope)
    if withheld is not None:
        return Figure(
            own_value=own,
            median=None,
            lower_quartile=None,
            upper_quartile=None,
            position=None,
            n=None,
            systems=None,
            withheld=withheld,
        )
    lower, median, upper = quartiles([e.value for e in members])
    return Figure(
        own_value=own,
        median=round(median, 1),
        lower_quartile=round(lower, 1),
        upper_quartile=round(upper, 1),
        position=None if own is None else position(own, lower, median, upper),
        n=n,
        systems=systems,
    )


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """The lower quartile, the median and the upper quartile (inclusive method)."""
    if len(values) == 1:  # only when the thresholds allow a group of one
        return values[0], values[0], values[0]
    lower, median, upper = statistics.quantiles(sorted(values), n=4, method="inclusive")
    return lower, median, upper


def no_snapshot(own: float | None = None) -> Figure:
    return Figure(
        own_value=own,
        median=None,
        lower_quartile=None,
        upper_quartile=None,
        position=None,
        n=None,
        systems=None,
        withheld=Withheld(
            reason=WithheldReason.NO_SNAPSHOT,
            needed=1,
            detail="No benchmark snapshot has been taken yet: the operator runs "
            "`lhs-map benchmarks refresh`, or the service takes one on its schedule.",
        ),
    )


def by_figure(entries: Iterable[Entry]) -> Mapping[str, list[Entry]]:
    found: dict[str, list[Entry]] = {}
    for entry in entries:
        found.setdefault(entry.figure, []).append(entry)
    return found
