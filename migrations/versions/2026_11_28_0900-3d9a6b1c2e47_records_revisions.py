"""A revision number per organisation, bumped by the database whenever one of its assets or
activities is inserted, changed or deleted.

The gap analysis remembers what the rest of a system has (who already meets each capability)
while the system's records do not change. It used to ask by aggregating every asset and
activity of the system (a count, a sum of versions, a latest timestamp over 28,000 rows of a
200-member ICS: 19 ms on every analysis). Now it reads one number per organisation with the
tree it reads anyway.

Triggers, not application code: every path that writes records (the API, the imports, the map
import, the CLI, a cascade from a deleted organisation, a fix made by hand in psql) bumps the
number, so a remembered answer can never outlive the records it was computed from. On
PostgreSQL the triggers are per statement (a 10,000-row import bumps each organisation once);
SQLite has only row triggers.

The table has no foreign key on purpose: a cascade from a deleted organisation deletes its
records, whose triggers would then write a row for an organisation that is going away. Rows of
deleted organisations are purged by the housekeeping chore; nothing reads them meanwhile.

Revision ID: 3d9a6b1c2e47
Revises: 7c2f4e8a1b6d
Create Date: 2026-11-28 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3d9a6b1c2e47"
down_revision: str | None = "7c2f4e8a1b6d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("asset", "activity", "assessment")
BUMP = (
    "INSERT INTO organisation_records AS r (organisation_id, revision) "
    "SELECT DISTINCT organisation_id, 1 FROM {rows} "
    "ON CONFLICT (organisation_id) DO UPDATE SET revision = r.revision + 1;"
)
CHANGED_BY_UPDATE = (
    "(SELECT organisation_id FROM new_rows UNION SELECT organisation_id FROM old_rows) AS changed"
)
POSTGRES_FUNCTION = "\n".join(
    [
        "CREATE FUNCTION lhs_records_changed() RETURNS trigger LANGUAGE plpgsql AS $$",
        "BEGIN",
        "  IF TG_OP = 'INSERT' THEN",
        BUMP.format(rows="new_rows"),
        "  ELSIF TG_OP = 'DELETE' THEN",
        BUMP.format(rows="old_rows"),
        "  ELSE",
        BUMP.format(rows=CHANGED_BY_UPDATE),
        "  END IF;",
        "  RETURN NULL;",
        "END $$",
    ]
)
POSTGRES_TRIGGERS = {
    "insert": "AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows",
    "update": "AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows",
}
SQLITE_UPSERT = (
    "INSERT INTO organisation_records (organisation_id, revision) SELECT {row}.organisation_id, 1 "
    "WHERE {condition} ON CONFLICT (organisation_id) DO UPDATE SET revision = revision + 1;"
)
SQLITE_TRIGGERS = {
    "insert": ("AFTER INSERT ON {table}", [("NEW", "true")]),
    "update": (
        "AFTER UPDATE ON {table}",
        [("NEW", "true"), ("OLD", "OLD.organisation_id <> NEW.organisation_id")],
    ),
    "delete": ("AFTER DELETE ON {table}", [("OLD", "true")]),
}


def upgrade() -> None:
    op.create_table(
        "organisation_records",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_organisation_records")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(POSTGRES_FUNCTION)
    for table in TABLES:
        if postgres:
            for event, when in POSTGRES_TRIGGERS.items():
                op.execute(
                    f"CREATE TRIGGER {table}_records_{event} {when.format(table=table)} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION lhs_records_changed()"
                )
        else:
            for event, (when, rows) in SQLITE_TRIGGERS.items():
                body = " ".join(
                    SQLITE_UPSERT.format(row=row, condition=condition) for row, condition in rows
                )
                op.execute(
                    f"CREATE TRIGGER {table}_records_{event} {when.format(table=table)} "
                    f"BEGIN {body} END"
                )
    # Records that exist already count from here.
    op.execute(
        "INSERT INTO organisation_records (organisation_id, revision) "
        "SELECT id, 1 FROM organisation"
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        for event in POSTGRES_TRIGGERS:
            op.execute(
                f"DROP TRIGGER {table}_records_{event}" + (f" ON {table}" if postgres else "")
            )
    if postgres:
        op.execute("DROP FUNCTION lhs_records_changed()")
    op.drop_table("organisation_records")
