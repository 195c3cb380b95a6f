"""The action plan in the analysis, on the engine alone: table-driven, no database, no clock."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from app.analysis import engine
from app.analysis.profile import Claim, PlannedItem, Profile
from app.analysis.schemas import (
    GapAnalysis,
    GapStatus,
    OrganisationRef,
    Strategy,
    SystemGapAnalysis,
)
from app.reference.service import shipped_models
from app.vocabulary import ActivityStatus, CapabilityKind, Confidence, OrganisationType, Rag

MODEL = shipped_models()[-1]
WHEN = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
TODAY = WHEN.date()
ORG = OrganisationRef(id=uuid.UUID(int=1), name="Example Trust")
# An empty acute trust's first five recommendations under the newest model, in rank order.
TOP_FIVE = [
    "care-improvement-priorities",
    "learning-community",
    "service-user-voice",
    "improvement-ambition",
    "senior-learning-leadership",
]


def item(
    key: str,
    n: int,
    status: ActivityStatus = ActivityStatus.PLANNED,
    due: date | None = None,
    title: str | None = None,
) -> PlannedItem:
    return PlannedItem(
        uuid.UUID(int=100 + n),
        key,
        title or f"Item {n}",
        status,
        Rag.AMBER,
        owner="Chief improvement officer",
        due_date=due,
    )


def trust(
    *items: PlannedItem,
    claims: tuple[Claim, ...] = (),
    organisation: OrganisationRef = ORG,
    review: date | None = None,
) -> Profile:
    return Profile(
        organisation=organisation,
        claims=claims,
        organisation_type=OrganisationType.ACUTE_TRUST,
        plan_items=items,
        next_review_due=review,
    )


def test_the_top_five_of_an_empty_trust_is_what_these_tests_assume() -> None:
    analysis = engine.analyse(trust(), MODEL, generated_at=WHEN)
    assert [r.capability_key for r in analysis.recommendations[:5]] == TOP_FIVE
    assert analysis.plan.items == []
    assert analysis.plan.unplanned == TOP_FIVE
    assert analysis.review.next_review_due is None
    assert analysis.review.overdue is False


def test_each_recommendation_lists_the_items_for_its_capability_and_no_others() -> None:
    items = (
        item("learning-community", 1),
        item("learning-community", 2, ActivityStatus.ACTIVE),
        item("data-platform", 3),
    )
    analysis = engine.analyse(trust(*items), MODEL, generated_at=WHEN)
    planned = {r.capability_key: [i.id for i in r.plan_items] for r in analysis.recommendations}
    assert planned["learning-community"] == [items[0].id, items[1].id]
    assert planned["data-platform"] == [items[2].id]
    assert sum(len(ids) for ids in planned.values()) == 3
    first = analysis.recommendations[1].plan_items[0]
    assert (first.title, first.owner, first.rag, first.status) == (
        "Item 1",
        "Chief improvement officer",
        Rag.AMBER,
        ActivityStatus.PLANNED,
    )


@pytest.mark.parametrize(
    ("items", "unplanned"),
    [
        ((), TOP_FIVE),
        ((item(TOP_FIVE[0], 1),), TOP_FIVE[1:]),
        ((item(TOP_FIVE[1], 1, ActivityStatus.ACTIVE),), [TOP_FIVE[0], *TOP_FIVE[2:]]),
        ((item(TOP_FIVE[2], 1, ActivityStatus.COMPLETED),), [*TOP_FIVE[:2], *TOP_FIVE[3:]]),
        # A stopped item is no longer a plan: the capability is unplanned again.
        ((item(TOP_FIVE[3], 1, ActivityStatus.STOPPED),), TOP_FIVE),
        # The sixth recommendation planned does not change the top five.
        ((item("improvement-capability", 1),), TOP_FIVE),
        (tuple(item(key, n) for n, key in enumerate(TOP_FIVE)), []),
    ],
)
def test_unplanned_names_the_top_five_without_a_live_item(
    items: tuple[PlannedItem, ...], unplanned: list[str]
) -> None:
    analysis = engine.analyse(trust(*items), MODEL, generated_at=WHEN)
    assert analysis.plan.unplanned == unplanned


@pytest.mark.parametrize(
    ("due", "status", "overdue"),
    [
        (TODAY - timedelta(days=1), ActivityStatus.PLANNED, True),
        (TODAY - timedelta(days=1), ActivityStatus.ACTIVE, True),
        (TODAY, ActivityStatus.PLANNED, False),  # due today is not late yet
        (TODAY + timedelta(days=1), ActivityStatus.ACTIVE, False),
        (TODAY - timedelta(days=30), ActivityStatus.COMPLETED, False),
        (TODAY - timedelta(days=30), ActivityStatus.STOPPED, False),
        (None, ActivityStatus.PLANNED, False),
    ],
)
def test_an_item_is_overdue_from_the_day_after_it_was_due_while_open(
    due: date | None, status: ActivityStatus, overdue: bool
) -> None:
    analysis = engine.analyse(
        trust(item("data-platform", 1, status, due)), MODEL, generated_at=WHEN
    )
    (shown,) = analysis.plan.items
    assert shown.overdue is overdue
    assert analysis.plan.overdue == int(overdue)


def test_the_day_decides_overdue_not_the_time_the_analysis_was_made() -> None:
    due = item("data-platform", 1, due=TODAY)
    today = engine.analyse(trust(due), MODEL, generated_at=WHEN)
    tomorrow = engine.analyse(trust(due), MODEL, generated_at=WHEN, today=TODAY + timedelta(1))
    assert (today.plan.overdue, tomorrow.plan.overdue) == (0, 1)


def test_items_come_overdue_first_then_by_due_date_with_none_last_then_by_title() -> None:
    items = (
        item("data-platform", 1, due=None, title="B no date"),
        item("data-platform", 2, due=None, title="A no date"),
        item("data-platform", 3, due=TODAY + timedelta(days=10), title="Later"),
        item("data-platform", 4, due=TODAY + timedelta(days=2), title="Sooner"),
        item("data-platform", 5, due=TODAY - timedelta(days=1), title="Late"),
        item("data-platform", 6, ActivityStatus.COMPLETED, TODAY - timedelta(5), "Done early"),
    )
    analysis = engine.analyse(trust(*items), MODEL, generated_at=WHEN)
    assert [i.title for i in analysis.plan.items] == [
        "Late",
        "Done early",
        "Sooner",
        "Later",
        "A no date",
        "B no date",
    ]
    (rec,) = [r for r in analysis.recommendations if r.capability_key == "data-platform"]
    assert rec.plan_items == analysis.plan.items


def test_an_item_for_a_capability_the_model_lacks_is_kept_and_listed_as_unmapped() -> None:
    gone = item("retired-capability", 1, due=TODAY - timedelta(days=1))
    analysis = engine.analyse(trust(gone, item("data-platform", 2)), MODEL, generated_at=WHEN)
    assert [i.capability_key for i in analysis.plan.unmapped] == ["retired-capability"]
    assert gone.id in {i.id for i in analysis.plan.items}
    assert analysis.plan.overdue == 1  # still late, still counted
    assert all(gone.id not in {i.id for i in r.plan_items} for r in analysis.recommendations)


def test_a_completed_item_never_makes_a_capability_met() -> None:
    done = item("data-platform", 1, ActivityStatus.COMPLETED)
    with_item = engine.analyse(trust(done), MODEL, generated_at=WHEN)
    without = engine.analyse(trust(), MODEL, generated_at=WHEN)
    (gap,) = [g for g in with_item.gaps if g.capability_key == "data-platform"]
    assert gap.status == GapStatus.MISSING
    assert gap.current_maturity == 0
    assert gap.evidence == []
    assert with_item.summary == without.summary
    assert [r.capability_key for r in with_item.recommendations] == [
        r.capability_key for r in without.recommendations
    ]
    # Only a record meets it.
    asset = Claim(
        "data-platform",
        3,
        Confidence.PEER_REVIEWED,
        CapabilityKind.ASSET,
        ORG.id,
        uuid.UUID(int=9),
        "Shared care record",
        evidence_links=1,
        reviewed=True,
    )
    met = engine.analyse(trust(done, claims=(asset,)), MODEL, generated_at=WHEN)
    (gap,) = [g for g in met.gaps if g.capability_key == "data-platform"]
    assert gap.status == GapStatus.MET
    assert [i.id for i in met.plan.items] == [done.id]


@pytest.mark.parametrize(
    ("review", "overdue"),
    [
        (TODAY - timedelta(days=1), True),
        (TODAY, False),
        (TODAY + timedelta(days=90), False),
        (None, False),
    ],
)
def test_the_review_is_overdue_once_its_day_has_passed(review: date | None, overdue: bool) -> None:
    analysis = engine.analyse(trust(review=review), MODEL, generated_at=WHEN)
    assert analysis.review.next_review_due == review
    assert analysis.review.overdue is overdue


def member(n: int, *items: PlannedItem) -> Profile:
    return trust(*items, organisation=OrganisationRef(id=uuid.UUID(int=n), name=f"Trust {n}"))


ICS = OrganisationRef(id=uuid.UUID(int=50), name="An ICS")


def test_the_system_view_shows_effort_duplicated_only_where_two_members_plan_it() -> None:
    build_once = "data-platform"
    members = [
        member(1, item(build_once, 1), item("learning-community", 2)),
        member(2, item(build_once, 3, ActivityStatus.ACTIVE)),
        member(3, item("analytics-workforce", 4)),
        member(4, item("analytics-workforce", 5, ActivityStatus.STOPPED)),
    ]
    system = engine.analyse_system(ICS, members, MODEL, generated_at=WHEN)
    strategies = {r.capability_key: r.strategy for r in system.recommendations}
    assert strategies[build_once] == strategies["analytics-workforce"] == Strategy.BUILD_ONCE
    (duplicated,) = system.duplicated_effort
    assert (duplicated.capability_key, duplicated.members) == (build_once, 2)
    assert [(p.organisation.name, p.plan_item.id) for p in duplicated.plan_items] == [
        ("Trust 1", uuid.UUID(int=101)),
        ("Trust 2", uuid.UUID(int=103)),
    ]
    # Two members each building a local capability is no duplication.
    assert strategies["learning-community"] == Strategy.EACH_MEMBER


def test_each_member_row_says_how_much_of_its_own_top_five_is_planned() -> None:
    members = [
        member(1, item(TOP_FIVE[0], 1), item(TOP_FIVE[1], 2, ActivityStatus.COMPLETED)),
        member(2, item(TOP_FIVE[0], 3, ActivityStatus.STOPPED), item("data-platform", 4)),
        member(3),
    ]
    system = engine.analyse_system(ICS, members, MODEL, generated_at=WHEN)
    rows = {m.organisation.name: m.top_five_planned for m in system.members}
    assert {name: (t.planned, t.of) for name, t in rows.items()} == {
        "Trust 1": (2, 5),
        "Trust 2": (0, 5),
        "Trust 3": (0, 5),
    }
    # The member's own analysis agrees: its unplanned top five is what the row leaves out.
    own = engine.analyse(members[0], MODEL, generated_at=WHEN)
    assert len(own.plan.unplanned) == 5 - rows["Trust 1"].planned
    assert [m.overall_score for m in system.members] == [own.summary.overall_score] * 3


def test_the_worked_example_of_the_documentation() -> None:
    """docs/gap-analysis.md, "Plans": an empty acute trust with four plan items."""
    items = (
        PlannedItem(
            uuid.UUID(int=1),
            "care-improvement-priorities",
            "Agree three care priorities with the board",
            ActivityStatus.ACTIVE,
            Rag.RED,
            owner="Medical director",
            due_date=date(2026, 11, 30),
        ),
        PlannedItem(
            uuid.UUID(int=2),
            "learning-community",
            "Launch the learning community",
            ActivityStatus.COMPLETED,
            due_date=date(2026, 10, 1),
        ),
        PlannedItem(
            uuid.UUID(int=3), "service-user-voice", "Patient panel", ActivityStatus.STOPPED
        ),
        PlannedItem(
            uuid.UUID(int=4),
            "improvement-ambition",
            "Publish the improvement ambition",
            due_date=date(2027, 3, 31),
        ),
    )
    analysis = engine.analyse(trust(*items, review=date(2026, 12, 1)), MODEL, generated_at=WHEN)
    assert [i.id.int for i in analysis.plan.items] == [1, 2, 4, 3]
    assert [i.overdue for i in analysis.plan.items] == [True, False, False, False]
    assert analysis.plan.overdue == 1
    assert analysis.plan.unplanned == ["service-user-voice", "senior-learning-leadership"]
    second = analysis.recommendations[1]
    assert (second.capability_key, second.status) == ("learning-community", GapStatus.MISSING)
    assert [i.id.int for i in second.plan_items] == [2]
    assert analysis.review.model_dump(by_alias=True, mode="json") == {
        "nextReviewDue": "2026-12-01",
        "overdue": True,
    }


def test_an_analysis_stored_before_plans_still_reads_with_an_empty_plan() -> None:
    """Assessments store the analysis JSON: one stored before plans existed has no plan, no
    review, no planItems, no members and no duplicatedEffort, and still reads."""
    stored = engine.analyse(trust(), MODEL, generated_at=WHEN).model_dump(
        mode="json", by_alias=True
    )
    for field in ("plan", "review"):
        del stored[field]
    for recommendation in stored["recommendations"]:
        del recommendation["planItems"]
    read = GapAnalysis.model_validate(stored)
    assert read.plan.items == []
    assert read.review.next_review_due is None
    system = engine.analyse_system(ICS, [member(1)], MODEL, generated_at=WHEN)
    old_system = system.model_dump(mode="json", by_alias=True)
    del old_system["members"], old_system["duplicatedEffort"]
    assert SystemGapAnalysis.model_validate(old_system).members == []
