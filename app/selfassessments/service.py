"""Self-assessment use cases: open a draft, answer, submit, moderate, export. The pages and the
API call exactly these, so validation, tenancy and audit live here. Services flush; the
request's unit of work commits.

Who answered and who moderates is an ``Author``: the credential (issuer and subject) and the
respondent a signed link names. Two people with links from one admin are two authors, and the
author of an answer never moderates it.
"""

import csv
import io
import unicodedata
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic.alias_generators import to_camel
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import records
from app.analysis import service as analysis_service
from app.assessments import service as assessments_service
from app.assets import service as assets_service
from app.assets.schemas import AssetCreate, AssetUpdate, stored_links
from app.audit import service as audit
from app.auth import access
from app.auth.principal import Principal
from app.db import ReadContext, fetch, reads_in, utcnow
from app.errors import Conflict, FieldIssue, Forbidden, NotFound, StaleVersion, ValidationFailed
from app.models import Asset, SelfAssessment, SelfAssessmentAnswer
from app.organisations import hierarchy
from app.organisations import queries as organisation_queries
from app.pagination import PageParams, keyset
from app.questionnaire import service as questionnaire
from app.records import ExpectedVersion
from app.reference import service as reference_service
from app.reference.schemas import Capability, ReferenceModelPublic
from app.selfassessments.schemas import AnswerInput, ModerationInput, SelfAssessmentCreate
from app.transfer.cells import neutralise
from app.vocabulary import (
    AuditAction,
    Confidence,
    ModerationDecision,
    OrganisationType,
    ResourceType,
    Role,
    Scope,
    SelfAssessmentStatus,
)


@dataclass(frozen=True, eq=False)
class Author:
    """A person answering or moderating: the credential, and the respondent its link names."""

    credential: str
    respondent: str | None

    def _key(self) -> tuple[str, str | None]:
        # A name is typed by whoever mints each link: "Dr A Patel" and "dr a  patel" from one
        # credential are one person, who must not moderate their own answer by a retyped name.
        name = self.respondent
        if name is not None:
            name = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
        return self.credential, name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Author) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @classmethod
    def of(cls, principal: Principal, respondent: str | None) -> "Author":
        # Issuer and subject, not the kind: a link minted by a key, used without a respondent,
        # is that key's holder (a link's principal has kind "link" but the minter's subject).
        credential = ":".join(part for part in (principal.issuer, principal.subject) if part)
        return cls(credential, respondent)

    def label(self) -> str:
        """How a record's reviewedBy names the moderator (bounded like the field)."""
        text = f"{self.respondent} ({self.credential})" if self.respondent else self.credential
        return text[:200]


@dataclass(frozen=True)
class SelfAssessmentView:
    """A self-assessment with its answers, and the questionnaire it answers."""

    self_assessment: SelfAssessment
    answers: list[SelfAssessmentAnswer]
    model: ReferenceModelPublic
    organisation_type: OrganisationType

    @property
    def id(self) -> uuid.UUID:
        return self.self_assessment.id

    @property
    def created_at(self) -> datetime:
        return self.self_assessment.created_at

    @property
    def questions(self) -> list[Capability]:
        return questionnaire.questions_for(self.model, self.organisation_type)

    def fields(self) -> dict[str, Any]:
        """The wire form's values (app.selfassessments.router makes it SelfAssessmentPublic)."""
        row = self.self_assessment
        return row.model_dump() | {
            "reference_model": row.reference_model_version,
            "question_count": len(self.questions),
            "answers": [answer_fields(a) for a in self.answers],
        }


def answer_fields(answer: SelfAssessmentAnswer) -> dict[str, Any]:
    moderation = None
    if answer.moderation is not None:
        moderation = {
            "decision": answer.moderation,
            "level": answer.moderated_level if answer.moderated_level is not None else answer.level,
            "reason": answer.moderation_reason,
            "moderated_by": answer.moderated_by,
            "moderator_respondent": answer.moderator_respondent,
            "moderated_at": answer.moderated_at,
        }
    return answer.model_dump(exclude={"self_assessment_id"}) | {"moderation": moderation}


def _missing(self_assessment_id: uuid.UUID) -> NotFound:
    return NotFound(f"Self-assessment {self_assessment_id} does not exist.")


@asynccontextmanager
async def _reading(reads: ReadContext) -> AsyncIterator[AsyncSession]:
    """A session to read with: the open transaction's, or a read snapshot of its own."""
    if reads.session is not None:
        yield reads.session
    else:
        async with reads.snapshot() as session:
            try:
                yield session
            finally:
                # Detach what was read before the snapshot's rollback expires it: the caller
                # reads the rows after the snapshot is closed.
                session.expunge_all()


async def _model_for(
    session: AsyncSession, organisation_id: uuid.UUID, version: str
) -> ReferenceModelPublic:
    owners = await hierarchy.ancestor_ids(reads_in(session), organisation_id, include_self=True)
    model, _ = await reference_service.get_versioned(reads_in(session), version, owners=owners)
    return model


async def _view(session: AsyncSession, row: SelfAssessment) -> SelfAssessmentView:
    # The caller's access was checked already: this only reads the organisation's type.
    organisation = (
        await fetch(
            reads_in(session), organisation_queries.ONE, {"organisation_id": row.organisation_id}
        )
    )[0]
    answers = (
        await session.exec(
            select(SelfAssessmentAnswer)
            .where(SelfAssessmentAnswer.self_assessment_id == row.id)
            .order_by(col(SelfAssessmentAnswer.capability_key))
        )
    ).all()
    model = await _model_for(session, row.organisation_id, row.reference_model_version)
    organisation_type = OrganisationType(organisation["organisation_type"])
    order = {c.key: i for i, c in enumerate(model.capabilities)}
    ordered = sorted(
        answers, key=lambda a: (order.get(a.capability_key, len(order)), a.capability_key)
    )
    return SelfAssessmentView(row, list(ordered), model, organisation_type)


async def _load(
    session: AsyncSession,
    principal: Principal,
    self_assessment_id: uuid.UUID,
    *,
    need: Role = Role.READER,
    for_update: bool = False,
) -> SelfAssessment:
    try:
        row = await records.get_or_404(
            session, SelfAssessment, self_assessment_id, for_update=for_update
        )
    except NotFound:
        raise _missing(self_assessment_id) from None
    await access.within(
        reads_in(session),
        principal,
        row.organisation_id,
        need=need,
        missing=_missing(self_assessment_id),
    )
    return row


def _summary(row: SelfAssessment) -> dict[str, Any]:
    return row.model_dump()


def _audit(
    session: AsyncSession,
    principal: Principal,
    action: AuditAction,
    row: SelfAssessment,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    audit.record(
        session,
        principal=principal,
        action=action,
        resource_type=ResourceType.SELF_ASSESSMENT,
        resource_id=row.id,
        organisation_id=row.organisation_id,
        changes=audit.diff(before, after),
    )


async def open_draft(
    session: AsyncSession,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    data: SelfAssessmentCreate,
    respondent: str | None = None,
) -> SelfAssessmentView:
    """Open a draft for a model version (the default when none is named): one open draft per
    organisation and version (409 naming the open one), and never for a retired model."""
    await access.organisation(reads_in(session), principal, organisation_id, need=Role.EDITOR)
    owners = await hierarchy.ancestor_ids(reads_in(session), organisation_id, include_self=True)
    model, _ = await reference_service.chosen(
        reads_in(session), data.reference_model, owners=owners
    )
    await _refuse_second_draft(session, organisation_id, model.version)
    author = Author.of(principal, respondent)
    row = SelfAssessment(
        organisation_id=organisation_id,
        reference_model_version=model.version,
        status=SelfAssessmentStatus.DRAFT,
        opened_by=author.credential,
        opened_by_respondent=respondent,
        assessment_id=None,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:  # another request opened one meanwhile (the partial unique index)
        await _refuse_second_draft(session, organisation_id, model.version)
        raise
    _audit(session, principal, AuditAction.CREATE, row, {}, _summary(row))
    return await _view(session, row)


async def _refuse_second_draft(
    session: AsyncSession, organisation_id: uuid.UUID, version: str
) -> None:
    open_one = (
        await session.exec(
            select(SelfAssessment.id).where(
                SelfAssessment.organisation_id == organisation_id,
                SelfAssessment.reference_model_version == version,
                SelfAssessment.status == SelfAssessmentStatus.DRAFT,
            )
        )
    ).first()
    if open_one is not None:
        raise Conflict(
            f"Organisation {organisation_id} has an open self-assessment draft for model "
            f"{version} already: {open_one}. Answer that one, or submit it first."
        )


async def get(
    reads: ReadContext, self_assessment_id: uuid.UUID, *, principal: Principal
) -> SelfAssessmentView:
    async with _reading(reads) as session:
        row = await _load(session, principal, self_assessment_id)
        return await _view(session, row)


async def list_for(
    reads: ReadContext,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    page: PageParams,
) -> Sequence[SelfAssessment]:
    """A page of the organisation's self-assessments, oldest first (and one more when another
    page follows)."""
    async with _reading(reads) as session:
        await access.organisation(reads_in(session), principal, organisation_id)
        statement = keyset(
            select(SelfAssessment).where(SelfAssessment.organisation_id == organisation_id),
            created_at=col(SelfAssessment.created_at),
            row_id=col(SelfAssessment.id),
            params=page,
        )
        return (await session.exec(statement)).all()


def _read_only(row: SelfAssessment) -> Conflict:
    return Conflict(
        f"Self-assessment {row.id} was submitted on {row.submitted_at:%Y-%m-%d} and is "
        "read-only; open a new one to answer again."
        if row.submitted_at is not None
        else f"Self-assessment {row.id} is read-only."
    )


def _question(view: SelfAssessmentView, capability_key: str) -> Capability:
    found = next((c for c in view.questions if c.key == capability_key), None)
    if found is None:
        raise NotFound(
            f"The questionnaire of model {view.model.version} for a "
            f"{view.organisation_type.value} has no question {capability_key!r}."
        )
    return found


async def _previous_record(
    session: AsyncSession, organisation_id: uuid.UUID, capability_key: str
) -> Asset | None:
    """The asset the organisation's latest submitted self-assessment wrote for this capability,
    if it still exists and is still about it: a new questionnaire updates it instead of adding
    another."""
    statement = (
        select(Asset)
        .join(SelfAssessmentAnswer, col(SelfAssessmentAnswer.record_id) == col(Asset.id))
        .join(
            SelfAssessment, col(SelfAssessment.id) == col(SelfAssessmentAnswer.self_assessment_id)
        )
        .where(
            SelfAssessment.organisation_id == organisation_id,
            SelfAssessment.status == SelfAssessmentStatus.SUBMITTED,
            SelfAssessmentAnswer.capability_key == capability_key,
            Asset.organisation_id == organisation_id,
            # Still about this capability: one someone moved to another (or to none) is
            # theirs now, and the answer makes a new record rather than overwrite it.
            Asset.capability_key == capability_key,
        )
        .order_by(col(SelfAssessment.submitted_at).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()


async def record_answer(
    session: AsyncSession,
    *,
    principal: Principal,
    self_assessment_id: uuid.UUID,
    capability_key: str,
    answer: AnswerInput,
    respondent: str | None = None,
) -> SelfAssessmentView:
    """Save (or replace) one question's answer in a draft. Remembers the record this
    questionnaire will update and the version read now, which the submit checks."""
    row = await _load(session, principal, self_assessment_id, need=Role.EDITOR, for_update=True)
    if row.status != SelfAssessmentStatus.DRAFT:
        raise _read_only(row)
    view = await _view(session, row)
    capability = _question(view, capability_key)
    if answer.not_applicable and not questionnaire.not_applicable_allowed(
        capability, view.organisation_type
    ):
        raise ValidationFailed(
            f"'Not applicable here' is not an answer to {capability_key!r} for a "
            f"{view.organisation_type.value} in model {view.model.version}.",
            errors=[FieldIssue("not_applicable", "Not allowed for this question; give a level.")],
        )
    author = Author.of(principal, respondent)
    previous = await _previous_record(session, row.organisation_id, capability_key)
    existing = next((a for a in view.answers if a.capability_key == capability_key), None)
    before = answer_fields(existing) if existing is not None else {}
    values: dict[str, Any] = {
        "level": answer.level,
        "not_applicable": answer.not_applicable,
        "comment": answer.comment,
        "evidence": stored_links(answer.evidence),
        "answered_by": author.credential,
        "respondent": respondent,
        "answered_at": utcnow(),
        "record_id": previous.id if previous is not None else None,
        "record_version": previous.version if previous is not None else None,
    }
    if existing is None:
        existing = SelfAssessmentAnswer(
            self_assessment_id=row.id, capability_key=capability_key, **values
        )
        session.add(existing)
    else:
        for name, value in values.items():
            setattr(existing, name, value)
    records.apply(row, {}, also_changed=True)
    await session.flush()
    _audit(
        session,
        principal,
        AuditAction.UPDATE,
        row,
        {"answer": before} if before else {},
        {"answer": answer_fields(existing)},
    )
    return await _view(session, row)


async def submit(
    session: AsyncSession,
    *,
    principal: Principal,
    self_assessment_id: uuid.UUID,
    expected: ExpectedVersion,
    respondent: str | None = None,
) -> SelfAssessmentView:
    """Write each answer into the organisation's records through the asset service, store the
    assessment of the result, and close the draft: all or nothing (the unit of work rolls
    everything back on any problem)."""
    row = await _load(session, principal, self_assessment_id, need=Role.EDITOR, for_update=True)
    expected.check(current=row.version, what=f"Self-assessment {row.id}")
    if row.status != SelfAssessmentStatus.DRAFT:
        raise _read_only(row)
    view = await _view(session, row)
    await reference_service.refuse_retired(reads_in(session), view.model)
    if not view.answers:
        raise ValidationFailed(
            "A self-assessment without answers has nothing to submit.",
            errors=[FieldIssue("answers", "Answer at least one question first.")],
        )
    questions = {c.key: c for c in view.questions}
    targets = await _check_records(session, row, view.answers)
    for answer in view.answers:
        if answer.not_applicable or answer.capability_key not in questions:
            continue
        asset = await _write_record(
            session, principal, row, questions[answer.capability_key], answer, targets
        )
        answer.record_id, answer.record_version = asset.id, asset.version
    before = _summary(row)
    # Submitted before the analysis reads it: the analysis counts what submitted
    # self-assessments wrote and declared (the questionnaire's origin, "not applicable here").
    records.apply(
        row,
        {
            "status": SelfAssessmentStatus.SUBMITTED,
            "submitted_by": Author.of(principal, respondent).label(),
            "submitted_at": utcnow(),
        },
    )
    await session.flush()
    analysis, choice = await analysis_service.analyse_with_own_records(
        session,
        principal=principal,
        organisation_id=row.organisation_id,
        model_version=row.reference_model_version,
    )
    assessment = await assessments_service.store(
        session,
        principal=principal,
        organisation_id=row.organisation_id,
        analysis=analysis,
        choice=choice,
        scope=Scope.ORGANISATION,
        label=f"Self-assessment {row.id}"[:200],
    )
    row.assessment_id = assessment.id
    await session.flush()
    _audit(session, principal, AuditAction.UPDATE, row, before, _summary(row))
    return await _view(session, row)


async def _check_records(
    session: AsyncSession, row: SelfAssessment, answers: Sequence[SelfAssessmentAnswer]
) -> dict[uuid.UUID, Asset]:
    """The records the answers will update, locked; 412 naming every one that someone changed
    since its answer was saved, and every one another self-assessment of the organisation (of
    another model version, open at the same time) wrote for a capability after its answer here
    found none: updating it, or making a second record beside it, would both go unseen. A record
    deleted meanwhile is simply made again."""
    written = [a for a in answers if not a.not_applicable]
    ids = [a.record_id for a in written if a.record_id is not None]
    assets: dict[uuid.UUID, Asset] = {}
    if ids:
        found = (
            await session.exec(
                select(Asset).where(col(Asset.id).in_(ids)).with_for_update(key_share=True)
            )
        ).all()
        assets = {a.id: a for a in found}
    changed = [
        f"asset {asset.id} ({asset.name!r}, for {answer.capability_key}) is at version "
        f"{asset.version}, not {answer.record_version}"
        for answer in written
        if answer.record_id is not None
        and (asset := assets.get(answer.record_id)) is not None
        and asset.version != answer.record_version
    ]
    for answer in written:
        if answer.record_id is None:
            appeared = await _previous_record(session, row.organisation_id, answer.capability_key)
            if appeared is not None:
                changed.append(
                    f"asset {appeared.id} ({appeared.name!r}, for {answer.capability_key}) was "
                    "written by another self-assessment since"
                )
    if changed:
        raise StaleVersion(
            f"Records this questionnaire would update changed since their answers were saved: "
            f"{'; '.join(changed)}. Look at them, save those answers again, then submit.",
            # The 412's ETag is the submitted resource's: the self-assessment's, not a record's.
            current_version=row.version,
        )
    return assets


async def _write_record(
    session: AsyncSession,
    principal: Principal,
    row: SelfAssessment,
    capability: Capability,
    answer: SelfAssessmentAnswer,
    targets: dict[uuid.UUID, Asset],
) -> Asset:
    """The answer as an asset, through the asset service (its checks and audit): the record the
    questionnaire wrote before, updated, or a new one."""
    level = answer.level if answer.level is not None else 0
    current = targets.get(answer.record_id) if answer.record_id is not None else None
    if current is not None:
        update = AssetUpdate.model_validate(
            {
                "maturity": level,
                "confidence": Confidence.SELF_ASSESSED.value,
                "evidence": answer.evidence,
                "description": answer.comment,
                "reviewedBy": None,
                "reviewedAt": None,
            }
        )
        updated = await assets_service.update(
            session,
            principal=principal,
            asset_id=current.id,
            data=update,
            expected=ExpectedVersion(frozenset({current.version})),
        )
        return updated.asset
    create = AssetCreate.model_validate(
        {
            "area": capability.area.value,
            "capabilityKey": capability.key,
            "name": f"{capability.title} (self-assessment)"[:200],
            "description": answer.comment,
            "maturity": level,
            "confidence": Confidence.SELF_ASSESSED.value,
            "evidence": answer.evidence,
        }
    )
    created = await assets_service.create(
        session, principal=principal, organisation_id=row.organisation_id, data=create
    )
    return created.asset


async def moderate(
    session: AsyncSession,
    *,
    principal: Principal,
    self_assessment_id: uuid.UUID,
    capability_key: str,
    data: ModerationInput,
    respondent: str | None = None,
) -> SelfAssessmentView:
    """Agree with a submitted answer, or change its level with a reason. Moderators are
    editors or admins whose scope covers the organisation (its own, or one above it: an ICS
    moderating its members); never the answer's author. The record becomes peer_reviewed."""
    row = await _load(session, principal, self_assessment_id, need=Role.EDITOR, for_update=True)
    if row.status != SelfAssessmentStatus.SUBMITTED:
        raise Conflict(f"Self-assessment {row.id} is a draft: submit it before moderating.")
    view = await _view(session, row)
    answer = next((a for a in view.answers if a.capability_key == capability_key), None)
    if answer is None:
        raise NotFound(f"Self-assessment {row.id} has no answer to {capability_key!r}.")
    moderator = Author.of(principal, respondent)
    if Author(answer.answered_by, answer.respondent) == moderator:
        raise Forbidden(
            "You gave this answer: someone else moderates it (that is the point of moderation)."
        )
    if answer.not_applicable or answer.record_id is None:
        raise Conflict(
            f"The answer to {capability_key!r} is 'not applicable here' and wrote no record: "
            "there is no level to moderate."
        )
    asset = await session.get(Asset, answer.record_id)
    if asset is None:
        raise Conflict(
            f"The record the answer to {capability_key!r} wrote ({answer.record_id}) was "
            "deleted since: there is nothing to moderate."
        )
    if asset.version != answer.record_version:
        # A later self-assessment, or someone else, changed the record since this answer wrote
        # it: agreeing would put back a level nobody holds any more.
        raise Conflict(
            f"The record the answer to {capability_key!r} wrote ({asset.id}) changed since "
            f"(version {asset.version}, not {answer.record_version}): moderate the latest "
            "self-assessment's answer, or the record itself."
        )
    before = answer_fields(answer)
    now = utcnow()
    level = data.level if data.decision == ModerationDecision.CHANGE else answer.level
    update: dict[str, Any] = {
        "confidence": Confidence.PEER_REVIEWED.value,
        "reviewedBy": moderator.label(),
        "reviewedAt": now.isoformat(),
    }
    if level is not None:
        update["maturity"] = level
    await assets_service.update(
        session,
        principal=principal,
        asset_id=asset.id,
        data=AssetUpdate.model_validate(update),
        expected=ExpectedVersion(frozenset({asset.version})),
    )
    answer.moderation = data.decision
    answer.moderated_level = data.level if data.decision == ModerationDecision.CHANGE else None
    answer.moderation_reason = data.reason
    answer.moderated_by = moderator.credential
    answer.moderator_respondent = respondent
    answer.moderated_at = now
    answer.record_version = asset.version
    records.apply(row, {}, also_changed=True)
    await session.flush()
    _audit(
        session,
        principal,
        AuditAction.UPDATE,
        row,
        {"answer": before},
        {"answer": answer_fields(answer)},
    )
    return await _view(session, row)


CSV_COLUMNS = (
    "capability_key",
    "area",
    "title",
    "level",
    "not_applicable",
    "comment",
    "evidence",
    "answered_by",
    "respondent",
    "answered_at",
    "record_id",
    "moderation",
    "moderated_level",
    "moderation_reason",
    "moderated_by",
    "moderator_respondent",
    "moderated_at",
)


async def export_csv(
    reads: ReadContext, self_assessment_id: uuid.UUID, *, principal: Principal
) -> str:
    """A submitted self-assessment as CSV, one row per answer in the questionnaire's order
    (cells a spreadsheet would run as formulas are neutralised); the export is audited."""
    view = await get(reads, self_assessment_id, principal=principal)
    row = view.self_assessment
    if row.status != SelfAssessmentStatus.SUBMITTED:
        raise Conflict(f"Self-assessment {row.id} is a draft: only a submitted one exports.")
    await audit.exported(
        reads,
        principal=principal,
        resource_type=ResourceType.SELF_ASSESSMENT,
        organisation_id=row.organisation_id,
        details={"format": "csv", "self_assessment_id": str(row.id)},
    )
    by_key = {c.key: c for c in view.model.capabilities}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    # The header in the contract's spelling, as every other export's (camelCase).
    writer.writerow([to_camel(name) for name in CSV_COLUMNS])
    for answer in view.answers:
        capability = by_key.get(answer.capability_key)
        values = {
            **answer.model_dump(),
            "area": capability.area.value if capability is not None else "",
            "title": capability.title if capability is not None else "",
            "evidence": " ".join(link["url"] for link in answer.evidence),
            "moderation": answer.moderation.value if answer.moderation is not None else "",
        }
        writer.writerow([neutralise(_cell(values.get(name))) for name in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
