"""The action plan in the gap-analysis contract: plan items as the analysis shows them, and
what it says of them (unplanned top recommendations, overdue items, the next review)."""

import uuid
from datetime import date

from pydantic import Field

from app.api import ApiModel
from app.vocabulary import ActivityStatus, Rag


class PlanItemRef(ApiModel):
    """A plan item as the analysis shows it. A completed item never makes a capability met:
    only assets and activities do."""

    id: uuid.UUID
    capability_key: str
    title: str
    owner: str | None
    due_date: date | None
    status: ActivityStatus
    rag: Rag
    overdue: bool = Field(
        description="dueDate is before the day of the analysis and the item is planned or active."
    )


class Plan(ApiModel):
    """The organisation's action plan read against the analysis."""

    items: list[PlanItemRef] = Field(
        default=[],
        description="Every plan item of the organisation: overdue first, then by dueDate (none "
        "last), then title.",
    )
    unplanned: list[str] = Field(
        default=[],
        description="Capabilities of the top five recommendations, in rank order, with no plan "
        "item planned, active or completed (a stopped item does not count).",
    )
    overdue: int = Field(default=0, description="Plan items that are overdue.")
    unmapped: list[PlanItemRef] = Field(
        default=[],
        description="Plan items whose capability this reference model does not have (a later "
        "version renamed or dropped it): kept, and listed here to be moved to a capability.",
    )


class Review(ApiModel):
    next_review_due: date | None = Field(
        default=None, description="When the organisation next reviews its map and plan."
    )
    overdue: bool = Field(
        default=False, description="nextReviewDue is before the day of the analysis."
    )


class TopFivePlanned(ApiModel):
    planned: int = Field(
        description="Of the member's own top recommendations, those with a plan item planned, "
        "active or completed."
    )
    of: int = Field(description="The member's own top recommendations: five, or fewer if fewer.")
