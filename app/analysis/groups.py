"""The system view's members by sector and by region, with area scores per group, so that a
gap in one sector (primary care, say) is not hidden in the system's average. Pure."""

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from app.analysis.profile import Profile, State
from app.analysis.schemas import GroupAreaScore, RegionGroup, SectorGroup
from app.analysis.scoring import share
from app.reference.schemas import Capability
from app.vocabulary import SECTORS, Area, Sector

Member = tuple[Profile, dict[str, State]]
K = TypeVar("K", bound=Hashable)


def sector(profile: Profile) -> Sector:
    kind = profile.organisation_type
    return Sector.OTHER if kind is None else SECTORS[kind]


def by_sector(members: Sequence[Member], capabilities: Sequence[Capability]) -> list[SectorGroup]:
    return [
        SectorGroup(sector=key, **scores(group, capabilities))
        for key, group in _grouped(members, sector).items()
    ]


def by_region(members: Sequence[Member], capabilities: Sequence[Capability]) -> list[RegionGroup]:
    return [
        RegionGroup(region=key, **scores(group, capabilities))
        for key, group in _grouped(members, lambda p: p.region).items()
    ]


def _grouped(members: Sequence[Member], key: Callable[[Profile], K]) -> dict[K, list[Member]]:
    """The members by ``key``, groups in alphabetical order; no region recorded comes last."""
    found: dict[K, list[Member]] = {}
    for member in members:
        found.setdefault(key(member[0]), []).append(member)
    return dict(sorted(found.items(), key=lambda item: (item[0] is None, str(item[0]))))


def scores(group: Sequence[Member], capabilities: Sequence[Capability]) -> dict[str, Any]:
    """A group's member count, mean overall score and mean score per area (each member's area
    score as its own summary computes it, over what applies to it). The national list of
    systems gives each system's figures with this too."""
    overall = [share(capabilities, s) for _, s in group]
    areas = []
    for area in Area:
        subset = [c for c in capabilities if c.area == area]
        scores = [share(subset, s) for _, s in group if any(s[c.key].applicable for c in subset)]
        mean = round(sum(scores) / len(scores), 1) if scores else None
        areas.append(GroupAreaScore(area=area, score=mean))
    return {
        "members": len(group),
        "overall_score": round(sum(overall) / len(overall), 1),
        "areas": areas,
    }
