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
    score as its own summary computes it, over what applies to it)."""
    return mean_scores([member_scores(s, capabilities) for _, s in group])


# A member's overall score, and its score per area (in Area's order; None where nothing in the
# area applies to it).
MemberScores = tuple[float, tuple[float | None, ...]]


def member_scores(states: dict[str, State], capabilities: Sequence[Capability]) -> MemberScores:
    """What a group's figures need of one member. Capabilities that apply to none of the
    group change nothing (a share counts only what applies), so a member's scores are the
    same in every group it is counted in: the national list of systems keeps them per
    organisation."""
    areas = []
    for area in Area:
        subset = [c for c in capabilities if c.area == area]
        applies = any(states[c.key].applicable for c in subset)
        areas.append(share(subset, states) if applies else None)
    return share(capabilities, states), tuple(areas)


def mean_scores(members: Sequence[MemberScores]) -> dict[str, Any]:
    """A group's figures from its members' scores (members to whom nothing in an area applies
    are left out of its mean)."""
    areas = []
    for index, area in enumerate(Area):
        found = [area_scores[index] for _, area_scores in members]
        present = [score for score in found if score is not None]
        mean = round(sum(present) / len(present), 1) if present else None
        areas.append(GroupAreaScore(area=area, score=mean))
    return {
        "members": len(members),
        "overall_score": round(sum(overall for overall, _ in members) / len(members), 1),
        "areas": areas,
    }
