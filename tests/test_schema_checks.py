"""Enum drift is caught before it ships, and reported as a fault if it ships anyway.

Alembic's autogenerate ignores CHECK constraints, so a value added to a domain enum without a
migration passes the schema-drift test and fails at run time. These tests compare the CHECK
constraints of the migrated database with the metadata's, and show that a CHECK violation at
run time is a logged 500 (a fault to fix), not a 409 telling the caller to retry.
"""

import logging
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import CheckConstraint, MetaData, inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import app.models  # noqa: F401 - registers every table on the metadata
from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem

# The comparison. PostgreSQL gives back its own rendering of a CHECK, not the text it was
# given (``organisation_type IN ('a', 'b')`` returns as
# ``((organisation_type)::text = ANY ((ARRAY['a'::character varying, ...])::text[]))``), so
# normalising whitespace and quoting is not enough. Each constraint is reduced to what drift
# changes: its string literals (the enum values), numbers (bounds) and column names.

SQL_WORDS = frozenset(
    {"and", "or", "not", "in", "is", "null", "between", "any", "array", "text", "character",
     "varying", "varchar", "integer", "like", "escape", "true", "false"}
)  # fmt: skip
TOKEN = re.compile(r"'((?:[^']|'')*)'|([A-Za-z_][A-Za-z0-9_]*)|(\d+(?:\.\d+)?)")

Signature = tuple[frozenset[str], frozenset[str], frozenset[str]]


def signature(sql: str) -> Signature:
    literals: set[str] = set()
    names: set[str] = set()
    numbers: set[str] = set()
    for token in TOKEN.finditer(sql.replace('"', "").replace("`", "")):
        literal, name, number = token.groups()
        if literal is not None:
            literals.add(literal.replace("''", "'"))
        elif name is not None and name.lower() not in SQL_WORDS:
            names.add(name.lower())
        elif number is not None:
            numbers.add(number)
    return frozenset(literals), frozenset(names), frozenset(numbers)


def sql_of(constraint: CheckConstraint) -> str:
    """The constraint's SQL with its values inlined (an Enum column's CHECK binds them) and
    its columns unqualified, as the database reports them."""
    sql = str(constraint.sqltext.compile(compile_kwargs={"literal_binds": True}))
    table = getattr(constraint, "table", None)
    return sql.replace(f"{table.name}.", "") if table is not None else sql


def expected_checks(metadata: MetaData) -> dict[tuple[str, str], Signature]:
    """(table, constraint name) -> signature, with the naming convention applied."""
    convention = str(metadata.naming_convention["ck"])
    checks = {}
    for table in metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                name = str(constraint.name)
                if not name.startswith("ck_"):
                    name = convention % {"table_name": table.name, "constraint_name": name}
                checks[table.name, name] = signature(sql_of(constraint))
    return checks


def database_checks(connection: Connection, tables: list[str]) -> dict[tuple[str, str], Signature]:
    inspector = inspect(connection)
    return {
        (table, str(check["name"])): signature(str(check["sqltext"]))
        for table in tables
        for check in inspector.get_check_constraints(table)
    }


def check_drift(connection: Connection, metadata: MetaData) -> list[str]:
    """What differs between the database's CHECK constraints and the metadata's."""
    expected = expected_checks(metadata)
    actual = database_checks(connection, list(metadata.tables))
    drift = [f"missing in the database: {key}" for key in expected.keys() - actual.keys()]
    drift += [f"not in the models: {key}" for key in actual.keys() - expected.keys()]
    for key in sorted(expected.keys() & actual.keys()):
        if expected[key] != actual[key]:
            drift.append(f"{key}: models {expected[key]}, database {actual[key]}")
    return sorted(drift)


def with_an_extra_organisation_type(metadata: MetaData) -> MetaData:
    """A copy of the models in which a new organisation type was added without a migration."""
    copy = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(copy)
    organisations = copy.tables["organisation"]
    old = next(
        c
        for c in organisations.constraints
        if isinstance(c, CheckConstraint) and str(c.name).endswith("organisation_type")
    )
    organisations.constraints.remove(old)
    widened = sql_of(old).replace(")", ", 'hospital')")
    organisations.append_constraint(CheckConstraint(widened, name="organisation_type"))
    return copy


async def drift_of(backend: Backend, metadata: MetaData) -> list[str]:
    async with backend.engine.connect() as connection:
        return await connection.run_sync(check_drift, metadata)


async def test_the_migrated_check_constraints_match_the_models(backend: Backend) -> None:
    """The drift test that was missing: every CHECK of the models, by name and content, is in
    the migrated database and nothing else is."""
    assert len(expected_checks(SQLModel.metadata)) >= 8  # the comparison has work to do
    assert await drift_of(backend, SQLModel.metadata) == []


async def test_the_comparison_catches_an_enum_value_added_without_a_migration(
    backend: Backend,
) -> None:
    drift = await drift_of(backend, with_an_extra_organisation_type(SQLModel.metadata))
    assert len(drift) == 1, drift
    assert "ck_organisation_organisation_type" in drift[0]
    assert "hospital" in drift[0]


# At run time: a CHECK violation is the service's fault. The database is made to refuse one
# organisation type the models accept, as a deployed enum drift would.


async def narrow_organisation_types(backend: Backend) -> list[str]:
    """Make the database refuse organisation type 'ics'; return the statements that undo it."""
    async with backend.engine.begin() as connection:
        if backend.name == "postgresql":
            definition = (
                await connection.execute(
                    text(
                        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conname = 'ck_organisation_organisation_type'"
                    )
                )
            ).scalar_one()
            drop = "ALTER TABLE organisation DROP CONSTRAINT ck_organisation_organisation_type"
            add = "ALTER TABLE organisation ADD CONSTRAINT ck_organisation_organisation_type "
            await connection.execute(text(drop))
            await connection.execute(text(add + "CHECK (organisation_type <> 'ics') NOT VALID"))
            return [drop, add + definition]
        # SQLite cannot alter a CHECK in place; a trigger raises the same constraint error.
        await connection.execute(
            text(
                "CREATE TRIGGER drift_probe BEFORE INSERT ON organisation "
                "WHEN NEW.organisation_type = 'ics' BEGIN "
                "SELECT RAISE(ABORT, 'CHECK constraint failed: organisation_type'); END"
            )
        )
        return ["DROP TRIGGER drift_probe"]


async def test_a_check_violation_is_a_logged_500_not_a_409(
    client: httpx.AsyncClient, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """Today the IntegrityError is reported as 409 "changed meanwhile; re-read and retry" and
    not logged: the caller retries for ever and nobody learns of the fault."""
    undo = await narrow_organisation_types(backend)
    try:
        before = await snapshot(backend.engine)
        with caplog.at_level(logging.INFO):
            response = await client.post(
                "/v1/organisations", json={"name": "Drifted ICS", "organisationType": "ics"}
            )
        assert_problem(response, 500, "INTERNAL_ERROR")
        assert await snapshot(backend.engine) == before
        logged: list[Any] = [
            record
            for record in caplog.records
            if record.levelno >= logging.ERROR
            and record.exc_info
            and getattr(record, "request_id", None) == response.headers["x-request-id"]
        ]
        assert logged, "the fault was not logged with its traceback and request ID"
    finally:
        async with backend.engine.begin() as connection:
            for statement in undo:
                await connection.execute(text(statement))
