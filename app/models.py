"""Every table, in one place: the one import Alembic's autogenerate needs.

Enumerated columns are plain strings guarded by CHECK constraints built from the domain's enums
(app/vocabulary.py). Adding an enum member therefore needs a migration that replaces the
constraint (on SQLite, batch mode rebuilds the table); the drift test compares the migrated
database's CHECK constraints with these, so a member added without one fails the suite.
"""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Date, ForeignKey, Index, String, Uuid
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow
from app.vocabulary import (
    ActivityStatus,
    ActivityType,
    Area,
    Confidence,
    OrganisationType,
    Scope,
)


def _in(column: str, values: type[Any]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


def _timestamp() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _fk(target: str, *, ondelete: str, nullable: bool = False, index: bool = True) -> Any:
    return Field(
        sa_column=Column(
            Uuid, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index
        )
    )


class Organisation(SQLModel, table=True):
    __tablename__ = "organisation"
    __table_args__ = (
        CheckConstraint(_in("organisation_type", OrganisationType), name="organisation_type"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        Index(None, "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(sa_type=String(200))
    ods_code: str | None = Field(default=None, sa_type=String(9), unique=True)
    organisation_type: str = Field(sa_type=String(32))
    parent_id: uuid.UUID | None = _fk("organisation.id", ondelete="RESTRICT", nullable=True)
    region: str | None = Field(default=None, sa_type=String(100))
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    version: int = Field(default=1)


class Asset(SQLModel, table=True):
    __tablename__ = "asset"
    __table_args__ = (
        CheckConstraint(_in("area", Area), name="area"),
        CheckConstraint(_in("confidence", Confidence), name="confidence"),
        CheckConstraint("maturity BETWEEN 0 AND 4", name="maturity"),
        Index(None, "organisation_id", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = _fk("organisation.id", ondelete="CASCADE", index=False)
    area: str = Field(sa_type=String(32))
    capability_key: str | None = Field(default=None, sa_type=String(64), index=True)
    name: str = Field(sa_type=String(200))
    description: str | None = Field(default=None, sa_type=String(4000))
    maturity: int
    confidence: str = Field(sa_type=String(32))
    evidence: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON, nullable=False)
    owner: str | None = Field(default=None, sa_type=String(200))
    shared_with_members: bool = Field(default=False)
    reviewed_by: str | None = Field(default=None, sa_type=String(200))
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    version: int = Field(default=1)


class AssetTag(SQLModel, table=True):
    """Tags live in their own table so that ``?tag=`` is an indexed lookup on both backends."""

    __tablename__ = "asset_tag"

    asset_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("asset.id", ondelete="CASCADE"), primary_key=True)
    )
    tag: str = Field(sa_type=String(64), primary_key=True, index=True)


class Activity(SQLModel, table=True):
    __tablename__ = "activity"
    __table_args__ = (
        CheckConstraint(_in("area", Area), name="area"),
        CheckConstraint(_in("activity_type", ActivityType), name="activity_type"),
        CheckConstraint(_in("status", ActivityStatus), name="status"),
        CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name="dates"
        ),
        Index(None, "organisation_id", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = _fk("organisation.id", ondelete="CASCADE", index=False)
    area: str = Field(sa_type=String(32))
    capability_key: str | None = Field(default=None, sa_type=String(64), index=True)
    title: str = Field(sa_type=String(200))
    activity_type: str = Field(sa_type=String(32))
    status: str = Field(sa_type=String(16))
    start_date: date | None = Field(default=None, sa_type=Date)
    end_date: date | None = Field(default=None, sa_type=Date)
    goal: str | None = Field(default=None, sa_type=String(2000))
    outcome: str | None = Field(default=None, sa_type=String(2000))
    evidence: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON, nullable=False)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    version: int = Field(default=1)


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


class ReferenceModel(SQLModel, table=True):
    """A version of the reference LHS model, stored whole so that assessments stay pinned to it."""

    __tablename__ = "reference_model"

    version: str = Field(sa_type=String(40), primary_key=True)
    title: str = Field(sa_type=String(200))
    based_on: str | None = Field(default=None, sa_type=String(40))
    document: dict[str, Any] = Field(sa_type=JSON, nullable=False)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    row_version: int = Field(default=1)


class Assessment(SQLModel, table=True):
    """An immutable snapshot of one gap analysis, with the model version it used."""

    __tablename__ = "assessment"
    __table_args__ = (
        CheckConstraint(_in("scope", Scope), name="scope"),
        Index(None, "organisation_id", "created_at", "id"),
    )

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
    scope: str = Field(sa_type=String(16))
    overall_score: float
    label: str | None = Field(default=None, sa_type=String(200))
    result: dict[str, Any] = Field(sa_type=JSON, nullable=False)
    created_at: datetime = _timestamp()


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
