"""One read path: every prebuilt statement gives the same values on both databases, and on
PostgreSQL the same through the driver shortcut as through SQLAlchemy's execution; a
statement the shortcut could answer differently is refused when it is built."""

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, String, bindparam, event, insert, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import col

# Importing the query modules registers their statements (the app imports them too).
from app.activities import queries as activities_queries
from app.analysis import queries as analysis_queries  # noqa: F401
from app.assets import queries as assets_queries
from app.db import (
    PASS_THROUGH,
    PREBUILT,
    UnsafeStatement,
    UTCDateTime,
    fetch,
    make_sessions,
    prebuilt,
    reads_in,
)
from app.http import idempotency
from app.http.wire import dump_json
from app.models import (
    Activity,
    ActivityAsset,
    ApiKey,
    Asset,
    AssetTag,
    IdempotencyRecord,
    Organisation,
    OrganisationStanding,
    PlanItem,
    PlanItemActivity,
    PlanItemAsset,
    ReferenceModel,
    SelfAssessment,
    SelfAssessmentAnswer,
)
from app.organisations import queries as organisations_queries  # noqa: F401
from app.plans import queries as plans_queries
from app.reference import queries as reference_queries  # noqa: F401
from tests.conftest import Backend, empty_tables, migrate, settings_for

# --- Refused when built ------------------------------------------------------------------


def test_a_column_whose_type_postgresql_processes_is_refused_when_the_statement_is_built() -> None:
    # An Enum column comes back as a member through SQLAlchemy, as a string from the driver.
    with pytest.raises(UnsafeStatement, match="organisation_type"):
        prebuilt("test.enum_column", select(col(Organisation.organisation_type)))
    # So does any other processed type: a Boolean parameter, a JSON one.
    with pytest.raises(UnsafeStatement, match="flag"):
        prebuilt(
            "test.boolean_parameter",
            select(col(Asset.id)).where(col(Asset.shared_with_members) == bindparam("flag")),
        )
    with pytest.raises(UnsafeStatement, match="document"):
        prebuilt(
            "test.json_parameter",
            select(col(ReferenceModel.version)).where(
                col(ReferenceModel.document) == bindparam("document", type_=JSON)
            ),
        )
    assert not {name for name in PREBUILT if name.startswith("test.")}


def test_the_plain_form_of_the_same_column_and_the_allowed_types_are_accepted() -> None:
    # The one type let through though it declares processing, and why it is an identity.
    assert set(PASS_THROUGH) == {UTCDateTime}
    statement = select(
        type_coerce(col(Organisation.organisation_type), String).label("organisation_type"),
        col(Organisation.created_at),
    ).where(col(Organisation.updated_at) > bindparam("since", type_=UTCDateTime))
    try:
        query = prebuilt("test.accepted", statement)
        assert set(query.processed) == {"since"}  # processed on the shortcut too
        with pytest.raises(ValueError, match="registered already"):
            prebuilt("test.accepted", statement)
    finally:
        PREBUILT.pop("test.accepted", None)


# --- The same values on both databases ---------------------------------------------------

ICS = uuid.UUID("00000000-0000-4000-8000-000000000001")
TRUST = uuid.UUID("00000000-0000-4000-8000-000000000002")
ASSET = uuid.UUID("00000000-0000-4000-8000-0000000000a1")
OTHER_ASSET = uuid.UUID("00000000-0000-4000-8000-0000000000a2")
ACTIVITY = uuid.UUID("00000000-0000-4000-8000-0000000000b1")
PLAN_ITEM = uuid.UUID("00000000-0000-4000-8000-0000000000c1")
LATER_PLAN_ITEM = uuid.UUID("00000000-0000-4000-8000-0000000000c2")
SELF_ASSESSMENT = uuid.UUID("00000000-0000-4000-8000-0000000000d1")
MODEL = "eq-test-1"
AT = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
LATER = datetime(2026, 3, 5, 1, 2, 3, tzinfo=UTC)

# A value for each parameter a prebuilt statement may take, chosen so that the seeded rows
# match: a statement with a parameter not named here fails the test until it is given one.
SAMPLES: dict[str, Any] = {
    "organisation_id": ICS,
    "root_id": ICS,
    "asset_id": ASSET,
    "activity_id": ACTIVITY,
    "version": MODEL,
    "model_version": MODEL,
    # A statement for up to four organisations at once (app.analysis.queries.slotted).
    "organisation_0": ICS,
    "organisation_1": TRUST,
    "organisation_2": None,
    "organisation_3": None,
    "area": "data",
    "capability_key": "data-platform",
    "min_maturity": 1,
    "max_maturity": 4,
    "tag": "qi",
    "status": "active",
    "activity_type": "training",
    "after_created": datetime(2020, 1, 1, tzinfo=UTC),
    "after_id": uuid.UUID(int=0),
    "limit": 10,
    "prefix": "eqprefix",
    "ods_code": "EQT",
    "plan_item_id": PLAN_ITEM,
    "rag": "amber",
    "overdue_on": date(2026, 6, 1),
    "current_on": date(2026, 6, 1),
    "key": "eq-key",
    "scope": "POST /v1/organisations/x/assets eq",
}


async def _seed(engine: AsyncEngine) -> None:
    stamps = {"created_at": AT, "updated_at": LATER}
    links = [{"title": "Assurance report", "url": "https://example.org/a.pdf"}]
    async with engine.begin() as connection:
        await connection.execute(
            insert(Organisation),
            [
                {
                    "id": ICS,
                    "name": "Eq ICS",
                    "organisation_type": "ics",
                    "version": 3,
                    "ods_code": None,
                    "parent_id": None,
                    "region": None,
                    **stamps,
                },
                {
                    "id": TRUST,
                    "name": "Eq Trust",
                    "organisation_type": "acute_trust",
                    "version": 1,
                    "ods_code": "EQT",
                    "parent_id": ICS,
                    "region": "North",
                    **stamps,
                },
            ],
        )
        asset = {
            "organisation_id": ICS,
            "area": "data",
            "capability_key": "data-platform",
            "maturity": 3,
            "confidence": "evidenced",
            "shared_with_members": True,
            "reviewed_by": "A reviewer",
            "reviewed_at": LATER,
            **stamps,
        }
        await connection.execute(
            insert(Asset),
            [
                asset | {"id": ASSET, "name": "Platform", "evidence": links, "external_id": "X1"},
                asset
                | {"id": OTHER_ASSET, "name": "Other", "evidence": [], "external_id": None}
                | {"maturity": 1},
            ],
        )
        await connection.execute(
            insert(AssetTag),
            [{"asset_id": ASSET, "tag": tag} for tag in ("qi", "a-b", "a.b")],
        )
        await connection.execute(
            insert(Activity),
            [
                {
                    "id": ACTIVITY,
                    "organisation_id": ICS,
                    "area": "data",
                    "title": "Training",
                    "activity_type": "training",
                    "status": "active",
                    "start_date": AT.date(),
                    "evidence": links,
                    **stamps,
                }
            ],
        )
        await connection.execute(
            insert(ActivityAsset),
            [{"activity_id": ACTIVITY, "asset_id": a} for a in (ASSET, OTHER_ASSET)],
        )
        # One item overdue on the sample date, one not: both overdue filters match a row.
        item = {
            "organisation_id": ICS,
            "capability_key": "data-platform",
            "title": "Plan",
            "status": "active",
            "rag": "amber",
            **stamps,
        }
        await connection.execute(
            insert(PlanItem),
            [
                item
                | {"id": PLAN_ITEM, "due_date": date(2026, 1, 31), "owner": "CDO"}
                | {"external_id": None, "notes": "Board in May"},
                item
                | {"id": LATER_PLAN_ITEM, "due_date": None, "owner": None}
                | {"external_id": "P2", "notes": None},
            ],
        )
        await connection.execute(
            insert(PlanItemAsset),
            [{"plan_item_id": PLAN_ITEM, "asset_id": a} for a in (ASSET, OTHER_ASSET)],
        )
        await connection.execute(
            insert(PlanItemActivity), [{"plan_item_id": PLAN_ITEM, "activity_id": ACTIVITY}]
        )
        await connection.execute(
            insert(ApiKey),
            [
                {
                    "id": uuid.UUID(int=7),
                    "name": "Eq key",
                    "prefix": "eqprefix",
                    "secret_hash": "0" * 64,
                    "role": "editor",
                    "organisation_id": TRUST,
                    "created_by": "operator",
                    "created_at": AT,
                    "expires_at": LATER,
                    "revoked_at": None,
                }
            ],
        )
        await connection.execute(
            insert(IdempotencyRecord),
            [
                {
                    "key": SAMPLES["key"],
                    "scope": SAMPLES["scope"],
                    "request_digest": "d" * 64,
                    "status_code": 201,
                    # What a replay sends again: decoded alike on both databases.
                    "body": {"id": str(ASSET), "nested": {"list": [1, 2.5, None, "é"]}},
                    "location": "http://x/v1/assets/a",
                    "etag": 'W/"1"',
                    "resource_table": "asset",
                    "resource_id": ASSET,
                    "created_at": AT,
                }
            ],
        )
        await connection.execute(
            insert(ReferenceModel),
            [
                {
                    "version": MODEL,
                    "title": "Eq",
                    "organisation_id": TRUST,
                    "based_on": "2026.1",
                    "document": {"version": MODEL, "nested": {"list": [1, 2.5, None, "é"]}},
                    "row_version": 4,
                    **stamps,
                }
            ],
        )
        # What an analysis reads of an organisation's own records besides: an activity that
        # names a capability, and a submitted, moderated self-assessment answer.
        await connection.execute(
            insert(Activity),
            [
                {
                    "id": uuid.UUID(int=0xB2),
                    "organisation_id": ICS,
                    "area": "data",
                    "capability_key": "data-platform",
                    "title": "Platform work",
                    "activity_type": "improvement_project",
                    "status": "completed",
                    "outcome": "Done",
                    "evidence": [],
                    **stamps,
                }
            ],
        )
        await connection.execute(
            insert(OrganisationStanding),
            [
                {
                    "model_version": MODEL,
                    "organisation_id": ICS,
                    "inputs": "e" * 64,
                    "statuses": "0142",
                    "scores": "[41.5, [null, 20.0, 3.25, 100.0]]",
                    "assets": 2,
                    "activities": 1,
                    "last_changed": LATER,
                }
            ],
        )
        await connection.execute(
            insert(SelfAssessment),
            [
                {
                    "id": SELF_ASSESSMENT,
                    "organisation_id": ICS,
                    "reference_model_version": MODEL,
                    "status": "submitted",
                    "opened_by": "A lead",
                    "submitted_by": "A lead",
                    "submitted_at": LATER,
                    **stamps,
                }
            ],
        )
        await connection.execute(
            insert(SelfAssessmentAnswer),
            [
                {
                    "self_assessment_id": SELF_ASSESSMENT,
                    "capability_key": "data-platform",
                    "level": 3,
                    "not_applicable": False,
                    "evidence": [],
                    "answered_by": "A lead",
                    "answered_at": AT,
                    "record_id": ASSET,
                    "record_version": 1,
                    "moderation": "agree",
                }
            ],
        )


def _normal(query_name: str, rows: Any) -> list[tuple[bytes, list[tuple[str, type]]]]:
    """Each row as the wire would write it, and each value's kind; lists that SQL leaves
    unordered (tags, linked assets) sorted, rows in a stable order."""
    out = []
    for row in rows:
        values = {str(key): row[key] for key in row.keys()}  # noqa: SIM118 - asyncpg Records
        for key, value in values.items():
            if isinstance(value, list) and key in {"tags", "asset_ids", "activity_ids"}:
                values[key] = sorted(value)
        kinds = [(key, _kind(value)) for key, value in values.items()]
        out.append((dump_json(values), kinds))
    if query_name == "reference.all":  # the shipped models were installed at other times
        out = [row for row in out if f'"version":"{MODEL}"'.encode() in row[0]]
    return sorted(out)


def _kind(value: Any) -> type:
    # asyncpg's UUID is a subclass of uuid.UUID: what matters is that both are UUIDs.
    return uuid.UUID if isinstance(value, uuid.UUID) else type(value)


def _params(query_name: str) -> dict[str, Any]:
    names = set(PREBUILT[query_name].statement.compile().params)
    missing = names - set(SAMPLES) - _fixed(query_name)
    assert not missing, f"{query_name}: give SAMPLES a value for {sorted(missing)}"
    return {name: SAMPLES[name] for name in names if name in SAMPLES}


def _fixed(query_name: str) -> set[str]:
    # Parameters the statement fixed itself (a literal such as coalesce(x, 0)).
    compiled = PREBUILT[query_name].statement.compile()
    return {name for name, value in compiled.params.items() if value is not None}


async def test_every_prebuilt_statement_gives_the_same_values_on_both_databases(
    backend: Backend, tmp_path: Path
) -> None:
    if backend.name != "postgresql":
        pytest.skip("the PostgreSQL run compares both databases (a SQLite file of its own)")
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'eq.db'}"
    await migrate(sqlite_url)
    sqlite_engine = create_async_engine(sqlite_url)
    sqlite = make_sessions(sqlite_engine, settings_for(sqlite_url))
    postgres = backend.app.state.sessions
    try:
        await _seed(sqlite_engine)
        await _seed(backend.engine)
        # Pages of every shape a request may build, beside the widest built at import.
        for family in (assets_queries, activities_queries, plans_queries):
            for levels in (False, True):
                family.page(levels, frozenset({"organisation_id", "limit"}))
        # A replay's read of its key, for a create of assets (built on a replay's first use).
        idempotency.replay_query("asset")
        assert len(PREBUILT) >= 10
        for name in sorted(PREBUILT):
            query, params = PREBUILT[name], _params(name)
            on_sqlite = _normal(name, await fetch(sqlite.reads, query, params))
            shortcut = _normal(name, await fetch(postgres.reads, query, params))
            async with postgres.read() as session:
                processed = _normal(name, await fetch(reads_in(session), query, params))
            assert on_sqlite, f"{name}: the samples match no row, so nothing is compared"
            assert shortcut == processed, f"{name}: the shortcut skips processing that matters"
            assert shortcut == on_sqlite, f"{name}: PostgreSQL and SQLite disagree"
    finally:
        await sqlite.dispose()
        await sqlite_engine.dispose()
        await empty_tables(backend.engine)


def test_rows_compare_by_value_and_kind() -> None:
    # The comparison itself tells a string from a UUID and a naive time from an aware one.
    one: Mapping[str, Any] = {"id": ICS, "at": AT}
    assert _normal("x", [one]) != _normal("x", [{"id": str(ICS), "at": AT}])
    assert _normal("x", [one]) != _normal("x", [{"id": ICS, "at": AT.replace(tzinfo=None)}])


async def test_in_a_snapshot_the_shortcut_reads_the_snapshot_from_its_first_statement(
    backend: Backend,
) -> None:
    """An analysis reads its system in a read snapshot on the driver itself (SQLAlchemy's
    execution cost 4 ms on the 400 rows of a large system): from the first statement, which
    must begin the snapshot, to the last, every read sees the snapshot and nothing committed
    after it began."""
    if backend.name != "postgresql":
        pytest.skip("the driver shortcut is PostgreSQL's")
    sessions = backend.app.state.sessions
    ran_by: list[object] = []

    def seen(
        _connection: object, _cursor: object, _sql: str, _args: Any, context: Any, *_: Any
    ) -> None:
        ran_by.append(context)  # None: run on the driver, not by SQLAlchemy's execution

    try:
        await _seed(backend.engine)
        event.listen(backend.engine.sync_engine, "before_cursor_execute", seen)
        async with sessions.reads.snapshot() as session:
            reads = reads_in(session)
            query = PREBUILT["analysis.system"]
            first = await fetch(reads, query, {"root_id": ICS})
            # A member committed meanwhile by another connection.
            async with backend.engine.begin() as connection:
                await connection.execute(
                    insert(Organisation).values(
                        id=uuid.uuid4(),
                        name="Eq Later",
                        organisation_type="gp_practice",
                        parent_id=ICS,
                        created_at=AT,
                        updated_at=LATER,
                    )
                )
            again = await fetch(reads, query, {"root_id": ICS})
        outside = await fetch(sessions.reads, query, {"root_id": ICS})
    finally:
        event.remove(backend.engine.sync_engine, "before_cursor_execute", seen)
        await empty_tables(backend.engine)
    assert {row["name"] for row in first} == {"Eq ICS", "Eq Trust"}
    assert [dict(row) for row in again] == [dict(row) for row in first]
    assert {row["name"] for row in outside} == {"Eq ICS", "Eq Trust", "Eq Later"}
    # Both reads in the snapshot ran on the driver, as did the one outside it; the insert
    # between them was SQLAlchemy's.
    assert [connection is None for connection in ran_by] == [True, False, True, True]
