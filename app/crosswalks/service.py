"""Crosswalks: the shipped files (read once per process), the one way a caller reaches one
(through the reference-model read rules), and the roll-up of an analysis by a framework's
headings (a pure function: analysis, model and crosswalk in, view out)."""

import uuid
from functools import lru_cache
from pathlib import Path

import yaml

from app.analysis.schemas import GapAnalysis, GapStatus
from app.crosswalks.frameworks import HEADINGS, TITLES, Framework
from app.crosswalks.schemas import (
    CrosswalkFile,
    FrameworkView,
    HeadingMapping,
    HeadingScore,
    MappingInput,
    Relationship,
)
from app.db import ReadContext
from app.errors import FieldIssue, NotFound, ValidationFailed
from app.reference import service as reference_service
from app.reference.schemas import ReferenceModelPublic

DATA_DIR = Path(__file__).parent.parent / "reference" / "data" / "crosswalks"


@lru_cache
def shipped() -> dict[tuple[str, Framework], CrosswalkFile]:
    """Every crosswalk file, by (model version, framework). A file names the version it maps:
    shipped models never change, so a new mapping comes as a new file for a new version."""
    found: dict[tuple[str, Framework], CrosswalkFile] = {}
    for path in sorted(DATA_DIR.glob("*.yaml")):
        data = CrosswalkFile.model_validate(yaml.safe_load(path.read_text("utf-8")), strict=False)
        key = (data.model_version, data.framework)
        assert key not in found, f"{path.name}: a second crosswalk for {key}"
        found[key] = data
    return found


def for_model(model: ReferenceModelPublic, framework: Framework) -> CrosswalkFile | None:
    """The crosswalk of exactly this version (a variant has its own capabilities, so none)."""
    return shipped().get((model.version, framework))


async def get(
    reads: ReadContext, *, owners: list[uuid.UUID] | None, version: str, framework: Framework
) -> tuple[ReferenceModelPublic, CrosswalkFile]:
    """A model's crosswalk, reached as the model is: a version the caller may not see is not
    there (404, the same words as for no such version), a retired one is refused (409) as new
    work with it is, and a version with no crosswalk for the framework is 404."""
    model, _ = await reference_service.get_versioned(reads, version, owners=owners)
    await reference_service.refuse_retired(reads, model)
    crosswalk = for_model(model, framework)
    if crosswalk is None:
        have = sorted(v for v, f in shipped() if f == framework)
        raise NotFound(
            f"Reference model {version} has no crosswalk to {framework}; crosswalks to it "
            f"exist for: {', '.join(have) or 'none'}."
        )
    return model, crosswalk


def for_analysis(model: ReferenceModelPublic, framework: Framework) -> CrosswalkFile:
    """The crosswalk an analysis's view needs: a 422 on ``view`` when its model has none."""
    crosswalk = for_model(model, framework)
    if crosswalk is None:
        have = sorted(v for v, f in shipped() if f == framework)
        raise ValidationFailed(
            f"Reference model {model.version} has no crosswalk to {framework}.",
            errors=[
                FieldIssue(
                    "view",
                    f"Views by {framework} exist for model(s) {', '.join(have) or 'none'}; "
                    "ask for one of them with referenceModel, or leave view out.",
                )
            ],
        )
    return crosswalk


def in_model_order(model: ReferenceModelPublic, crosswalk: CrosswalkFile) -> list[MappingInput]:
    """The mappings by the model's capability order, then the framework's heading order."""
    position = {c.key: i for i, c in enumerate(model.capabilities)}
    heading = {h: i for i, h in enumerate(HEADINGS[crosswalk.framework])}
    return sorted(
        crosswalk.mappings,
        key=lambda m: (position.get(m.capability, len(position)), heading[m.heading]),
    )


def capability_score(current: int, target: int) -> float:
    """A capability's share of its target reached, 0-100, as the summary score counts it."""
    return 100.0 if target == 0 else round(100 * min(1.0, current / target), 1)


def view(
    analysis: GapAnalysis, model: ReferenceModelPublic, crosswalk: CrosswalkFile
) -> FrameworkView:
    """Each heading's score: the weight-weighted mean of the scores of the capabilities mapped
    to it that apply to this organisation (docs/gap-analysis.md works one through)."""
    weights = {c.key: c.weight for c in model.capabilities}
    gaps = {g.capability_key: g for g in analysis.gaps}
    by_heading: dict[str, list[HeadingMapping]] = {h: [] for h in HEADINGS[crosswalk.framework]}
    for mapping in crosswalk.mappings:
        gap = gaps.get(mapping.capability)
        if gap is None:  # a capability for policymakers: not in an organisation's analysis
            continue
        applies = gap.status != GapStatus.NOT_APPLICABLE
        by_heading[mapping.heading].append(
            HeadingMapping(
                capability_key=gap.capability_key,
                title=gap.title,
                relationship=Relationship(mapping.relationship),
                rationale=mapping.rationale,
                weight=weights[gap.capability_key],
                score=capability_score(gap.current_maturity, gap.target_maturity)
                if applies
                else None,
                current_maturity=gap.current_maturity,
                target_maturity=gap.target_maturity,
                status=gap.status.value,
            )
        )
    headings = []
    for key, title in HEADINGS[crosswalk.framework].items():
        mappings = by_heading[key]
        scored = [m for m in mappings if m.score is not None]
        total = sum(m.weight for m in scored)
        mean = round(sum(m.weight * (m.score or 0.0) for m in scored) / total, 1) if total else None
        headings.append(
            HeadingScore(
                heading=key,
                title=title,
                score=mean,
                weight=round(total, 4),
                capabilities=len(scored),
                capabilities_met=sum(1 for m in scored if m.status == GapStatus.MET.value),
                mappings=mappings,
            )
        )
    return FrameworkView(
        framework=crosswalk.framework,
        title=TITLES[crosswalk.framework],
        statement=crosswalk.statement,
        headings=headings,
    )
