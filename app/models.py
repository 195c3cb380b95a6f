"""Every table, in one place: the one import Alembic's autogenerate needs.

Enumerated columns are plain strings guarded by CHECK constraints built from the domain's enums
(app/vocabulary.py). Adding an enum member therefore needs a migration that replaces the
constraint (on SQLite, batch mode rebuilds the table); the drift test compares the migrated
database's CHECK constraints with these, so a member added without one fails the suite.
"""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    Uuid,
    text,
)
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow
from app.vocabulary import (
    ActivityStatus,
    ActivityType,
    Area,
    AuditAction,
    Confidence,
    ModerationDecision,
    OrganisationType,
    PrincipalKind,
    Rag,
    ResourceType,
    ReturnFramework,
    Role,
    Scope,
    SelfAssessmentStatus,
)


def _timestamp() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _enum(values: type[StrEnum], name: str, length: int = 32) -> Any:
    """A string column that holds one of the enum's values, with its own CHECK constraint
    (named ck_<table>_<name> by the naming convention), read back as the enum member."""
    return Field(
        sa_column=Column(
            Enum(
                values,
                name=name,
                native_enum=False,
                create_constraint=True,
                length=length,
                values_callable=lambda members: [member.value for member in members],
                validate_strings=True,
            ),
            nullable=False,
        )
    )


class Record(SQLModel):
    """What every versioned record has: an id, when it was made and changed, and the version
    that ETag and If-Match carry."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    version: int = Field(default=1)


def _fk(target: str, *, ondelete: str, nullable: bool = False, index: bool = True) -> Any:
    return Field(
        sa_column=Column(
            Uuid, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index
        )
    )


class Organisation(Record, table=True):
    __tablename__ = "organisation"
    __table_args__ = (
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        Index(None, "created_at", "id"),
        # A list of one type, in its page order (the national dashboard's).
        Index(None, "organisation_type", "created_at", "id"),
    )

    name: str = Field(sa_type=String(200))
    # As its register spells it (ODS's capitals), when that is not ``name``: the ODS import
    # shows names in a readable case and keeps ODS's own here.
    official_name: str | None = Field(default=None, sa_type=String(200))
    ods_code: str | None = Field(default=None, sa_type=String(9), unique=True)
    organisation_type: OrganisationType = _enum(OrganisationType, "organisation_type")
    parent_id: uuid.UUID | None = _fk("organisation.id", ondelete="RESTRICT", nullable=True)
    region: str | None = Field(default=None, sa_type=String(100))
    # When the organisation next reviews its map and plan; the analysis says when it is overdue.
    next_review_due: date | None = Field(default=None, sa_type=Date)
    # Demo data is compared only with demo data; set by the demo loader, never by an ODS prefix.
    is_demo: bool = Field(default=False)
    # Not counted in other organisations' benchmarks (its own benchmark still works).
    benchmark_opt_out: bool = Field(default=False)


class Asset(Record, table=True):
    __tablename__ = "asset"
    __table_args__ = (
        CheckConstraint("maturity BETWEEN 0 AND 4", name="maturity"),
        # The global list's order (every organisation's assets, oldest first).
        Index(None, "created_at", "id"),
        Index(None, "organisation_id", "created_at", "id"),
        Index(None, "organisation_id", "external_id", unique=True),
    )

    organisation_id: uuid.UUID = _fk("organisation.id", ondelete="CASCADE", index=False)
    area: Area = _enum(Area, "area")
    capability_key: str | None = Field(default=None, sa_type=String(64), index=True)
    name: str = Field(sa_type=String(200))
    description: str | None = Field(default=None, sa_type=String(4000))
    maturity: int
    confidence: Confidence = _enum(Confidence, "confidence")
    evidence: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON, nullable=False)
    owner: str | None = Field(default=None, sa_type=String(200))
    shared_with_members: bool = Field(default=False)
    reviewed_by: str | None = Field(default=None, sa_type=String(200))
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The key a spreadsheet row carries (unique within the organisation): a re-import updates.
    external_id: str | None = Field(default=None, sa_type=String(100))


class AssetTag(SQLModel, table=True):
    """Tags live in their own table so that ``?tag=`` is an indexed lookup on both backends."""

    __tablename__ = "asset_tag"

    asset_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("asset.id", ondelete="CASCADE"), primary_key=True)
    )
    tag: str = Field(sa_type=String(64), primary_key=True, index=True)


class Activity(Record, table=True):
    __tablename__ = "activity"
    __table_args__ = (
        CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name="dates"
        ),
        Index(None, "organisation_id", "created_at", "id"),
        Index(None, "organisation_id", "external_id", unique=True),
    )

    organisation_id: uuid.UUID = _fk("organisation.id", ondelete="CASCADE", index=False)
    area: Area = _enum(Area, "area")
    capability_key: str | None = Field(default=None, sa_type=String(64), index=True)
    title: str = Field(sa_type=String(200))
    activity_type: ActivityType = _enum(ActivityType, "activity_type")
    status: ActivityStatus = _enum(ActivityStatus, "status", length=16)
    start_date: date | None = Field(default=None, sa_type=Date)
    end_date: date | None = Field(default=None, sa_type=Date)
    goal: str | None = Field(default=None, sa_type=String(2000))
    outcome: str | None = Field(default=None, sa_type=String(2000))
    evidence: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON, nullable=False)
    external_id: str | None = Field(default=None, sa_type=String(100))


class ActivityAsset(SQLModel, table=True):
    """Which assets an activity uses (its own organisation's, or an ancestor's)."""

    __tablename__ = "activity_asset"

    activity_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True)
    )
    asset_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("asset.id", ondelete="CASCADE"), primary_key=True, index=True
        )
    )


class PlanItem(Record, table=True):
    """What an organisation will do about a capability: the action plan a board governs.

    ``capability_key`` is deliberately not a foreign key to any model: a later model version may
    rename or drop the capability, and the item must stay (the analysis lists it as unmapped)."""

    __tablename__ = "plan_item"
    __table_args__ = (
        Index(None, "organisation_id", "created_at", "id"),
        Index(None, "organisation_id", "external_id", unique=True),
    )

    organisation_id: uuid.UUID = _fk("organisation.id", ondelete="CASCADE", index=False)
    capability_key: str = Field(sa_type=String(64), index=True)
    title: str = Field(sa_type=String(200))
    owner: str | None = Field(default=None, sa_type=String(200))
    due_date: date | None = Field(default=None, sa_type=Date)
    status: ActivityStatus = _enum(ActivityStatus, "status", length=16)
    rag: Rag = _enum(Rag, "rag", length=8)
    notes: str | None = Field(default=None, sa_type=String(4000))
    external_id: str | None = Field(default=None, sa_type=String(100))


class PlanItemAsset(SQLModel, table=True):
    """An asset a plan item will create or improve (its own organisation's, or an ancestor's)."""

    __tablename__ = "plan_item_asset"

    plan_item_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("plan_item.id", ondelete="CASCADE"), primary_key=True)
    )
    asset_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("asset.id", ondelete="CASCADE"), primary_key=True, index=True
        )
    )


class PlanItemActivity(SQLModel, table=True):
    """An activity a plan item will start or improve."""

    __tablename__ = "plan_item_activity"

    plan_item_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("plan_item.id", ondelete="CASCADE"), primary_key=True)
    )
    activity_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True, index=True
        )
    )


class ReferenceModel(SQLModel, table=True):
    """A version of the reference LHS model, stored whole so that assessments stay pinned to it."""

    __tablename__ = "reference_model"

    version: str = Field(sa_type=String(40), primary_key=True)
    title: str = Field(sa_type=String(200))
    based_on: str | None = Field(default=None, sa_type=String(40))
    # The organisation whose variant it is: visible and usable only in its subtree (null: a
    # model for everyone). No foreign key: a variant stays pinned by its assessments.
    organisation_id: uuid.UUID | None = Field(default=None, sa_type=Uuid, index=True)
    document: dict[str, Any] = Field(sa_type=JSON, nullable=False)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    row_version: int = Field(default=1)


class Assessment(SQLModel, table=True):
    """An immutable snapshot of one gap analysis, with the model version it used."""

    __tablename__ = "assessment"
    __table_args__ = (Index(None, "organisation_id", "created_at", "id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = _fk("organisation.id", ondelete="CASCADE", index=False)
    reference_model_version: str = Field(
        sa_column=Column(
            String(40),
            ForeignKey("reference_model.version", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        )
    )
    scope: Scope = _enum(Scope, "scope", length=16)
    overall_score: float
    label: str | None = Field(default=None, sa_type=String(200))
    result: dict[str, Any] = Field(sa_type=JSON, nullable=False)
    # The top of the part of the tree the analysis saw: only callers who may see all of it may
    # read the snapshot (null for snapshots older than access control: the whole service's).
    seen_from: uuid.UUID | None = Field(default=None, sa_type=Uuid)
    created_at: datetime = _timestamp()


class OrganisationRecords(SQLModel, table=True):
    """A number the database bumps whenever any of an organisation's assets, activities,
    assessments or plan items is inserted, changed or deleted (triggers; see the migrations).
    An analysis that reads the same numbers for every organisation of a system can reuse what
    it remembered of that system. Never written by the application."""

    __tablename__ = "organisation_records"

    organisation_id: uuid.UUID = Field(primary_key=True)
    revision: int = Field(sa_type=BigInteger)


class OrganisationStanding(SQLModel, table=True):
    """Where an organisation stands against a model, as the national views count it (see
    app.national.figures.Standing), kept so that a new worker or instance reads it instead of
    crediting every organisation in the country again (8,000: 6 to 13 s). ``inputs`` is the
    digest of everything it was worked out from (the organisation's kind and records
    revision, what those above it share, the model's content, the code that credits); a row
    whose digest differs from the one worked out now is never used. Written by the national
    views, one row per organisation and model, replaced when its inputs change."""

    __tablename__ = "organisation_standing"

    # The model first: a national view reads every standing against one model.
    model_version: str = Field(sa_type=String(40), primary_key=True)
    organisation_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid,
            ForeignKey("organisation.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        )
    )
    inputs: str = Field(sa_type=String(64))
    # Each in-scope capability's status, one digit each (an index into GapStatus), in the
    # model's order; the scores as JSON text ([overall, [area, ...]]).
    statuses: str = Field(sa_type=Text)
    scores: str = Field(sa_type=Text)
    assets: int
    activities: int
    last_changed: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IdempotencyRecord(SQLModel, table=True):
    """The response to a create sent with an Idempotency-Key, replayed when the key returns."""

    __tablename__ = "idempotency_record"

    key: str = Field(sa_type=String(200), primary_key=True)
    scope: str = Field(sa_type=String(300), primary_key=True, description="method and path")
    request_digest: str = Field(sa_type=String(64))
    status_code: int | None = Field(default=None, description="null while in progress")
    body: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    location: str | None = Field(default=None, sa_type=String(500))
    etag: str | None = Field(default=None, sa_type=String(40))
    # What the create made, so that a replay after its deletion does not point at a 404.
    resource_table: str | None = Field(default=None, sa_type=String(64))
    resource_id: uuid.UUID | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class ApiKey(SQLModel, table=True):
    """A credential: only the SHA-256 of its secret is kept, beside a public prefix.

    The organisation foreign key cascades: a key scoped to a deleted organisation is deleted
    with it, so it stops working. SET NULL would be a disaster here (null scope means global)
    and RESTRICT would make every scoped key block the deletion of its organisation.
    """

    __tablename__ = "api_key"
    __table_args__ = (Index(None, "created_at", "id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(sa_type=String(100))
    prefix: str = Field(sa_type=String(16), unique=True)
    secret_hash: str = Field(sa_type=String(64))
    role: Role = _enum(Role, "role", length=16)
    organisation_id: uuid.UUID | None = _fk("organisation.id", ondelete="CASCADE", nullable=True)
    created_by: str = Field(sa_type=String(200))
    created_at: datetime = _timestamp()
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Written at most once a minute per key, beside the requests that use it (app.auth.usage).
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rotated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The secret a rotation replaced, still accepted until previous_secret_expires_at.
    previous_secret_hash: str | None = Field(default=None, sa_type=String(64))
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """Who changed what, when. No foreign keys on purpose: events outlive what they describe."""

    __tablename__ = "audit_event"
    __table_args__ = (
        # Pagination runs on (occurred_at, id); each filter leads an index of its own.
        Index(None, "occurred_at", "id"),
        Index(None, "organisation_id", "occurred_at", "id"),
        Index(None, "resource_type", "resource_id", "occurred_at"),
        Index(None, "actor", "occurred_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    occurred_at: datetime = _timestamp()
    actor: str = Field(sa_type=String(200))
    actor_kind: PrincipalKind = _enum(PrincipalKind, "actor_kind", length=16)
    request_id: str | None = Field(default=None, sa_type=String(128))
    action: AuditAction = _enum(AuditAction, "action", length=16)
    resource_type: ResourceType = _enum(ResourceType, "resource_type")
    resource_id: str = Field(sa_type=String(64))
    organisation_id: uuid.UUID | None = Field(default=None, sa_type=Uuid)
    changes: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON, nullable=False)
    # The change feed (app.changes). Where the event stands in commit order: assigned by the
    # database, never by the application (see the migration that made it), so None here
    # until read back.
    position: int | None = Field(default=None, sa_type=BigInteger, unique=True, index=True)
    # The record's version after the change (its last, for a deletion), where it has one.
    version: int | None = Field(default=None)
    # For an organisation's deletion and the deletions its cascade made: the deleted
    # organisation's parent, through which callers scoped above it still see them.
    parent_organisation_id: uuid.UUID | None = Field(default=None, sa_type=Uuid)


# The change feed: the last position given to an audit event, in one row (see AuditEvent).


class FeedClock(SQLModel, table=True):
    """Bumped by the database in the transaction that positions events: on PostgreSQL its row
    lock, taken at commit, puts positions in commit order. Never written by the application."""

    __tablename__ = "feed_clock"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: int = Field(primary_key=True)
    position: int = Field(sa_type=BigInteger)


# Imported returns (DMA, NHS IMPACT): read-only records of their own.


class ReturnScore(SQLModel, table=True):
    """One score of a return an organisation made to another framework (a DMA pillar or
    domain, an NHS IMPACT component), as imported. Never edited: importing the same framework
    and year again replaces the year's rows. The analysis credits capabilities from them
    through the model's crosswalk (app.returns.credits)."""

    __tablename__ = "return_score"
    __table_args__ = (Index(None, "organisation_id", "framework", "year"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = _fk("organisation.id", ondelete="CASCADE", index=False)
    framework: ReturnFramework = _enum(ReturnFramework, "framework", length=16)
    year: int
    heading: str = Field(sa_type=String(64), description="The pillar's or component's key.")
    domain: str | None = Field(default=None, sa_type=String(100))
    score: int
    validated: bool
    imported_at: datetime = _timestamp()


# Benchmarks by organisation type: one snapshot of every organisation's scores, taken in one
# consistent read. The entries are never returned raw: only aggregates over groups that pass
# the disclosure rule (app.benchmarks).
class BenchmarkSnapshot(SQLModel, table=True):
    """The one row that says when the snapshot was taken (``id`` is always 1): the refresh
    that moves ``taken_at`` on from the value it read wins; any other instance skips."""

    __tablename__ = "benchmark_snapshot"

    id: int = Field(default=1, primary_key=True)
    # Null until the first refresh (the migration adds the row, so a refresh only updates).
    taken_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reference_model: str | None = Field(default=None, sa_type=String(64))


class BenchmarkEntry(SQLModel, table=True):
    """One organisation's value of one figure (``overall``, ``area:<area>`` or
    ``capability:<key>``) as the snapshot found it, with what the grouping needs."""

    __tablename__ = "benchmark_entry"
    __table_args__ = (Index(None, "organisation_type", "figure"),)

    # No foreign key on purpose: the snapshot is a picture of one moment; a deleted
    # organisation leaves it at the next refresh.
    organisation_id: uuid.UUID = Field(sa_type=Uuid, primary_key=True)
    figure: str = Field(sa_type=String(80), primary_key=True)
    system_id: uuid.UUID = Field(sa_type=Uuid)
    organisation_type: OrganisationType = _enum(OrganisationType, "organisation_type")
    is_demo: bool = Field(default=False)
    opted_out: bool = Field(default=False)
    value: float


# Self-assessments: a questionnaire from the reference model, answered, submitted, moderated.
class SelfAssessment(Record, table=True):
    """A team's answers to one model version's questionnaire. One draft per organisation and
    version at a time (a partial unique index); once submitted it is read-only but for
    moderation, and ``assessment_id`` names the assessment its submit stored."""

    __tablename__ = "self_assessment"
    __table_args__ = (
        Index(None, "organisation_id", "created_at", "id"),
        Index(
            "uq_self_assessment_open_draft",
            "organisation_id",
            "reference_model_version",
            unique=True,
            sqlite_where=text("status = 'draft'"),
            postgresql_where=text("status = 'draft'"),
        ),
    )

    organisation_id: uuid.UUID = _fk("organisation.id", ondelete="CASCADE", index=False)
    # A plain version, not a foreign key: a draft must not pin a model (only assessments do).
    reference_model_version: str = Field(sa_type=String(40))
    status: SelfAssessmentStatus = _enum(SelfAssessmentStatus, "status", length=16)
    opened_by: str = Field(sa_type=String(200))
    opened_by_respondent: str | None = Field(default=None, sa_type=String(100))
    submitted_by: str | None = Field(default=None, sa_type=String(200))
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    assessment_id: uuid.UUID | None = _fk(
        "assessment.id", ondelete="SET NULL", nullable=True, index=False
    )


class SelfAssessmentAnswer(SQLModel, table=True):
    """One question's answer: the level (or "not applicable here"), who gave it, and what the
    submit and moderation did with it.

    ``record_id``/``record_version``: the asset this answer writes, and its version when the
    answer was saved; the submit refuses (412) when someone else changed it since. The asset is
    the one the organisation's previous self-assessment wrote for the capability, if it still
    exists, so a second questionnaire updates it rather than adding a duplicate."""

    __tablename__ = "self_assessment_answer"
    __table_args__ = (
        CheckConstraint("level IS NULL OR level BETWEEN 0 AND 4", name="level"),
        CheckConstraint(
            "moderated_level IS NULL OR moderated_level BETWEEN 0 AND 4", name="moderated_level"
        ),
        CheckConstraint("(level IS NULL) = not_applicable", name="level_or_not_applicable"),
    )

    self_assessment_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("self_assessment.id", ondelete="CASCADE"), primary_key=True
        )
    )
    capability_key: str = Field(sa_type=String(64), primary_key=True)
    level: int | None = Field(default=None)
    not_applicable: bool = Field(default=False)
    comment: str | None = Field(default=None, sa_type=String(2000))
    evidence: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON, nullable=False)
    answered_by: str = Field(sa_type=String(200))
    respondent: str | None = Field(default=None, sa_type=String(100))
    answered_at: datetime = _timestamp()
    # No foreign key: the record may be deleted by its organisation; the link then lapses.
    record_id: uuid.UUID | None = Field(default=None, sa_type=Uuid, index=True)
    record_version: int | None = Field(default=None)
    moderation: ModerationDecision | None = Field(
        default=None,
        sa_column=Column(
            Enum(
                ModerationDecision,
                name="moderation",
                native_enum=False,
                create_constraint=True,
                length=16,
                values_callable=lambda members: [member.value for member in members],
                validate_strings=True,
            ),
            nullable=True,
        ),
    )
    moderated_level: int | None = Field(default=None)
    moderation_reason: str | None = Field(default=None, sa_type=String(2000))
    moderated_by: str | None = Field(default=None, sa_type=String(200))
    moderator_respondent: str | None = Field(default=None, sa_type=String(100))
    moderated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
