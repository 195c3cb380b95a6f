"""The change feed: each audit event gets a position in commit order, and its version

``audit_event.position`` orders the feed (``GET /v1/changes``); ``feed_clock`` holds the last
position given, in one row. The database assigns positions, whichever path wrote the event:

- PostgreSQL: at commit, by a deferred constraint trigger that updates the clock row (its row
  lock serialises the committing transactions, held until the commit is visible) and numbers
  the transaction's events after it. Positions are therefore in commit order, and a position is
  visible only once every smaller one is (or was rolled back with its clock update).
- SQLite: at insert, by a trigger. One writer at a time: insert order is commit order.

A later migration that rebuilds ``audit_event`` on SQLite (batch mode, e.g. to widen a
CHECK) drops the trigger with the old table: it must create it again (SQLITE_TRIGGER), as the
test of the installed triggers checks.

Existing events are numbered in the order they occurred. ``parent_organisation_id`` lets a
caller scoped above a deleted organisation see the deletion (and those of its records).

Revision ID: c4a7f2e91b6d
Revises: 9a3f6c2e1d47
Create Date: 2026-12-04 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4a7f2e91b6d"
down_revision: str | None = "9a3f6c2e1d47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A transaction-local flag says events await numbering: set by each insert, cleared by the
# numbering. The commit trigger fires once per event; without the flag each firing would count
# the transaction's unnumbered events again, through every row version the numbering left
# behind (quadratic in an import's size).
POSTGRES_FUNCTIONS = (
    """
CREATE FUNCTION lhs_feed_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('lhs.feed_pending', '1', true);
    RETURN NEW;
END $$
""",
    """
CREATE FUNCTION lhs_feed_positions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pending bigint;
    last_given bigint;
BEGIN
    IF coalesce(current_setting('lhs.feed_pending', true), '') <> '1' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('lhs.feed_pending', '0', true);
    -- Other transactions' events are numbered once visible: these are this one's.
    SELECT count(*) INTO pending FROM audit_event WHERE position IS NULL;
    IF pending = 0 THEN
        RETURN NULL;
    END IF;
    -- The clock's row lock is held until this commit is visible: positions in commit order.
    UPDATE feed_clock SET position = position + pending WHERE id = 1
        RETURNING position - pending INTO last_given;
    UPDATE audit_event AS e SET position = last_given + numbered.n
    FROM (
        SELECT id, row_number() OVER (ORDER BY occurred_at, id) AS n
        FROM audit_event WHERE position IS NULL
    ) AS numbered
    WHERE e.id = numbered.id;
    RETURN NULL;
END $$
""",
)
POSTGRES_TRIGGERS = (
    "CREATE TRIGGER audit_event_feed_pending BEFORE INSERT ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION lhs_feed_pending()",
    "CREATE CONSTRAINT TRIGGER audit_event_feed_position AFTER INSERT ON audit_event "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lhs_feed_positions()",
)
SQLITE_TRIGGER = (
    "CREATE TRIGGER audit_event_feed_position AFTER INSERT ON audit_event "
    "WHEN NEW.position IS NULL BEGIN "
    "UPDATE feed_clock SET position = position + 1 WHERE id = 1; "
    "UPDATE audit_event SET position = (SELECT position FROM feed_clock WHERE id = 1) "
    "WHERE rowid = NEW.rowid; "
    "END"
)


def upgrade() -> None:
    op.create_table(
        "feed_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_feed_clock_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_clock")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("parent_organisation_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_event_position"), ["position"], unique=True)
    # Existing events, in the order they occurred; the clock starts after the last.
    op.execute(
        "UPDATE audit_event SET position = (SELECT numbered.n FROM (SELECT id, row_number() "
        "OVER (ORDER BY occurred_at, id) AS n FROM audit_event) AS numbered "
        "WHERE numbered.id = audit_event.id)"
    )
    op.execute(
        "INSERT INTO feed_clock (id, position) "
        "SELECT 1, coalesce(max(position), 0) FROM audit_event"
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in (*POSTGRES_FUNCTIONS, *POSTGRES_TRIGGERS):
            op.execute(statement)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger, function in (("position", "positions"), ("pending", "pending")):
            op.execute(f"DROP TRIGGER audit_event_feed_{trigger} ON audit_event")
            op.execute(f"DROP FUNCTION lhs_feed_{function}()")
    else:
        op.execute("DROP TRIGGER audit_event_feed_position")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_position"))
        batch_op.drop_column("parent_organisation_id")
        batch_op.drop_column("version")
        batch_op.drop_column("position")
    op.drop_table("feed_clock")
