"""A posted page form turned into the service's inputs, and the service's or the contract's
objections turned back into words next to the field they are about. The services decide; the
body each call gets is built and checked by the same contract model the API's body is."""

import uuid
from typing import Any

import pydantic
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.principal import Principal
from app.errors import AppError, BadRequest, StaleVersion
from app.http.preconditions import parse_if_match
from app.selfassessments import forms
from app.selfassessments import service as selfassessments
from app.selfassessments.schemas import AnswerInput, ModerationInput
from app.selfassessments.views import PageData
from app.vocabulary import ModerationDecision


async def record(
    session: AsyncSession,
    principal: Principal,
    data: PageData,
    key: str,
    posted: forms.Posted,
    respondent: str | None,
) -> None:
    """Save one question's answer through the service (the API's validation first: the body
    the API would have received is built and checked by the same contract model)."""
    body = {
        "level": None if posted.value in (None, forms.NOT_APPLICABLE) else int(posted.value),
        "notApplicable": posted.value == forms.NOT_APPLICABLE,
        "comment": posted.comment or None,
        "evidence": [{"title": e.title, "url": e.url} for e in posted.evidence],
    }
    answer = AnswerInput.model_validate(body)
    await selfassessments.record_answer(
        session,
        principal=principal,
        self_assessment_id=data.id,
        capability_key=key,
        answer=answer,
        respondent=respondent,
    )


def answer_errors(
    errors: forms.Errors, q: forms.Question, posted: forms.Posted, exc: Exception
) -> None:
    """The contract's or the service's objections to one answer, by the field they name."""
    for where, message in _issues(exc):
        if where and where[0] == "comment":
            errors.add(f"comment-{q.key}", f"Comment for {q.title}: {message}")
        elif where and where[0] == "evidence" and len(where) > 1 and isinstance(where[1], int):
            index = where[1]
            row = posted.evidence_rows[index] if index < len(posted.evidence_rows) else 0
            part = "title" if "title" in where else "url"
            errors.add(
                forms.evidence_id(q.key, row, part), f"Evidence link for {q.title}: {message}"
            )
        elif where and where[0] == "evidence" and posted.evidence_rows:
            # The list as a whole (too many links): said at the last link the person added.
            errors.add(
                forms.evidence_id(q.key, posted.evidence_rows[-1], "url"),
                f"Evidence for {q.title}: {message}",
            )
        else:
            errors.add(forms.level_id(q.key), f"{q.title}: {message}")


def _issues(exc: Exception) -> list[tuple[tuple[Any, ...], str]]:
    if isinstance(exc, pydantic.ValidationError):
        return [(tuple(e["loc"]), _sentence(e["msg"])) for e in exc.errors()]
    if isinstance(exc, AppError):
        return [(issue.field, _sentence(issue.message)) for issue in exc.errors] or [
            ((), exc.detail)
        ]
    raise exc


def _sentence(message: str) -> str:
    message = message.removeprefix("Value error, ")
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


async def submit(
    session: AsyncSession,
    principal: Principal,
    self_assessment_id: uuid.UUID,
    if_match: str,
    respondent: str | None,
) -> None:
    await selfassessments.submit(
        session,
        principal=principal,
        self_assessment_id=self_assessment_id,
        expected=parse_if_match(if_match),
        respondent=respondent,
    )


def submit_refusal(exc: AppError, data: PageData, posted_tag: str) -> str:
    """Why the submit was refused, for a person: the service's words, except where they speak
    HTTP (the page's own version, carried in its hidden field, is out of date or mangled)."""
    if data.submitted:
        # Submitted already (a second click, another tab): the version moved because of it,
        # so "someone saved an answer" would send the person looking for a change that is not.
        return "This self-assessment is submitted already; its answers cannot be changed."
    if isinstance(exc, BadRequest) or (
        isinstance(exc, StaleVersion)
        and f'"{data.view.self_assessment.version}"' not in posted_tag
        and exc.detail.startswith("Self-assessment")
    ):
        return (
            "The answers changed since this page was opened (someone saved an answer). "
            "Check them, then submit again."
        )
    return exc.detail


async def moderate(
    session: AsyncSession,
    principal: Principal,
    data: PageData,
    key: str,
    decision: forms.Decision,
    respondent: str | None,
) -> None:
    body = {
        "decision": ModerationDecision.AGREE.value
        if decision.agree
        else ModerationDecision.CHANGE.value,
        "level": decision.level,
        "reason": decision.reason or None,
    }
    await selfassessments.moderate(
        session,
        principal=principal,
        self_assessment_id=data.id,
        capability_key=key,
        data=ModerationInput.model_validate(body),
        respondent=respondent,
    )


def decision_errors(errors: forms.Errors, q: forms.Question, exc: Exception) -> None:
    for where, message in _issues(exc):
        if where and where[0] == "reason":
            errors.add(forms.reason_id(q.key), f"Reason: {message}")
        elif where and where[0] == "level":
            errors.add(forms.moderated_level_id(q.key), message)
        else:
            errors.add(forms.decision_id(q.key), message)
