"""How an imported return stands for capabilities (pure): through the model's crosswalk, a
pillar or component scored 1-5 gives the capabilities it covers the level score - 1.

Only mappings where the heading covers the whole capability (``equal``, or the capability a
``subset`` of it) credit: a heading that covers part of a capability says nothing of the rest.
A capability covered by several headings takes the lowest of their scores. Only the latest
year of each framework counts. The analysis (app.analysis.credit) then credits these claims
only where the organisation has no record of its own, never above one level below target,
and through the model's evidence rules like any self-rating."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from app.analysis.profile import Claim, ReturnBasis, ReturnSeen
from app.crosswalks import service as crosswalks
from app.crosswalks.schemas import Relationship
from app.reference.schemas import ReferenceModelPublic
from app.returns.rows import CROSSWALK_OF
from app.vocabulary import CapabilityKind, Confidence, ReturnFramework

CREDITING = frozenset({Relationship.EQUAL, Relationship.SUBSET})


@dataclass(frozen=True)
class StoredScore:
    framework: ReturnFramework
    year: int
    heading: str
    domain: str | None
    score: int
    validated: bool


def level_of(score: int) -> int:
    """A return's score 1-5 as an LHS level 0-4: 1 (nothing in place) is 0, 5 is 4."""
    return max(0, min(4, score - 1))


def heading_scores(rows: Iterable[StoredScore]) -> dict[str, tuple[int, bool]]:
    """Each heading's (score, validated): its own row, or else the lowest of its domains'."""
    own: dict[str, tuple[int, bool]] = {}
    domains: dict[str, list[tuple[int, bool]]] = {}
    for row in rows:
        if row.domain is None:
            own[row.heading] = (row.score, row.validated)
        else:
            domains.setdefault(row.heading, []).append((row.score, row.validated))
    for heading, scores in domains.items():
        if heading not in own:
            own[heading] = (min(s for s, _ in scores), all(v for _, v in scores))
    return own


def claims(
    rows: Iterable[StoredScore], model: ReferenceModelPublic, organisation_id: uuid.UUID
) -> tuple[tuple[Claim, ...], tuple[ReturnSeen, ...]]:
    """The claims the organisation's returns make for the model's capabilities, and which
    returns were read."""
    by_framework: dict[ReturnFramework, list[StoredScore]] = {}
    for row in rows:
        by_framework.setdefault(row.framework, []).append(row)
    found: list[Claim] = []
    seen: list[ReturnSeen] = []
    for framework in ReturnFramework:
        stored = by_framework.get(framework)
        if not stored:
            continue
        year = max(row.year for row in stored)
        crosswalk = crosswalks.for_model(model, CROSSWALK_OF[framework])
        seen.append(ReturnSeen(framework.value, year, crosswalk is not None))
        if crosswalk is None:
            continue
        scores = heading_scores(row for row in stored if row.year == year)
        covering: dict[str, list[str]] = {}
        for mapping in crosswalk.mappings:
            if mapping.relationship in CREDITING and mapping.heading in scores:
                covering.setdefault(mapping.capability, []).append(mapping.heading)
        for key, headings in covering.items():
            score = min(scores[h][0] for h in headings)
            validated = all(scores[h][1] for h in headings)
            basis = ReturnBasis(framework.value, year, tuple(headings), score)
            found.append(
                Claim(
                    capability_key=key,
                    maturity=level_of(score),
                    confidence=Confidence.PEER_REVIEWED if validated else Confidence.SELF_ASSESSED,
                    kind=CapabilityKind.ASSET,
                    organisation_id=organisation_id,
                    name=basis.origin,
                    # A validated return was checked by someone other than its author, as a
                    # named reviewer checks an asset.
                    reviewed=validated,
                    basis=basis,
                )
            )
    return tuple(found), tuple(seen)
