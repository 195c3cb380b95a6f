"""How a model version credits evidence and ranks advice.

Every rule is part of the model document, so an assessment pinned to a version keeps the rules
it was made with. The defaults are those of model 2024.1 (which predates them and stores none);
2026.1 turns them all on. docs/gap-analysis.md explains each with numbers.
"""

from enum import StrEnum

from pydantic import ConfigDict, Field

from app.api import ApiModel


class Ranking(StrEnum):
    WEIGHT = "weight"
    ORGANISATION_FIRST = "organisation_first"


class GettingStartedRules(StrEnum):
    RECORDS = "records"
    STRICT = "strict"
    CONSISTENT = "consistent"


class Rules(ApiModel):
    model_config = ConfigDict(extra="forbid")

    unchecked_maximum: int | None = Field(
        default=None,
        ge=0,
        le=4,
        description="Claims below minimumConfidence count one level lower and never above "
        "this level; null: no ceiling.",
    )
    unevidenced_activity_maximum: int | None = Field(
        default=None,
        ge=0,
        le=4,
        description="An activity with neither an outcome nor an evidence link counts at most "
        "this level; null: no ceiling.",
    )
    checked_claims_need_proof: bool = Field(
        default=False,
        description="An 'evidenced' claim without an evidence link, or a 'peer_reviewed' one "
        "that names no reviewer, counts as self-assessed.",
    )
    hard_prerequisites: bool = Field(
        default=False,
        description="A capability whose dependsOn is unmet is never met (status blocked).",
    )
    prerequisite_bonus_cap: float | None = Field(
        default=None,
        ge=0,
        description="Ceiling of the 0.1-per-unlock bonus in prerequisiteFactor; null: none.",
    )
    ranking: Ranking = Field(
        default=Ranking.WEIGHT,
        description="weight: by priorityScore from the capability's weight. "
        "organisation_first: Box 11 steps 1-4 first while undone, then Table 4 weight leads "
        "and Table 3 breaks ties.",
    )
    getting_started: GettingStartedRules = Field(
        default=GettingStartedRules.RECORDS,
        description="records: a step is shown by any matching record. strict: stronger "
        "proxies, and steps 7-8 need the step before them. consistent: a step that "
        "capabilities cite is done exactly when they are met (steps 5-6 as strict).",
    )
    known_gaps_first: bool = Field(
        default=False,
        description="A capability recorded below its target (a known weakness) ranks before "
        "capabilities with nothing recorded, after the Box 11 steps. A Box 11 step recorded "
        "at its target that lacks only proof (a reviewer or an evidence link) stays open but "
        "does not lead: it ranks by its score.",
    )
    notes_tell_cause: bool = Field(
        default=False,
        description="A gap's note names what holds its credit back (an unmet hard "
        "prerequisite or missing evidence), and never contradicts its status.",
    )
    sharing_follows_travel: bool = Field(
        default=False,
        description="An asset shared from above counts only for shareable capabilities that "
        "are not an organisation's own duty; availableInSystem follows travels and "
        "organisation kind, as the system view does.",
    )
    hosts_by_fitness: bool = Field(
        default=False,
        description="A system's host for something built once is the member fit to host it "
        "(the capability's hosts), furthest along on checked evidence; ties by confidence, "
        "never by name.",
    )
    direct_weights_lead: bool = Field(
        default=False,
        description="Under organisation_first, only a direct Table 4 citation sets the weight "
        "in the priority score: a modelling decision is shown, and weighs 0.30.",
    )
