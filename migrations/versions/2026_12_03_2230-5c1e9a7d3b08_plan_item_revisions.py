"""Plan items bump their organisation's records revision, as assets and activities do.

The gap analysis shows an organisation's plan items and is remembered by the records
revisions of its system (see the migration that made them): without these triggers a new,
changed or deleted plan item would not show until something else changed. The same triggers
and the same function as the other record tables, whichever path writes the item.

Revision ID: 5c1e9a7d3b08
Revises: 07c732524b2a
Create Date: 2026-12-03 22:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5c1e9a7d3b08"
down_revision: str | None = "07c732524b2a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "plan_item"
# As in 3d9a6b1c2e47 (a migration does not import another: each stays as it ran).
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
    if op.get_bind().dialect.name == "postgresql":
        for event, when in POSTGRES_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {TABLE}_records_{event} {when.format(table=TABLE)} "
                "FOR EACH STATEMENT EXECUTE FUNCTION lhs_records_changed()"
            )
        return
    for event, (when, rows) in SQLITE_TRIGGERS.items():
        body = " ".join(
            SQLITE_UPSERT.format(row=row, condition=condition) for row, condition in rows
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_records_{event} {when.format(table=TABLE)} BEGIN {body} END"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in POSTGRES_TRIGGERS:
        op.execute(f"DROP TRIGGER {TABLE}_records_{event}" + (f" ON {TABLE}" if postgres else ""))
