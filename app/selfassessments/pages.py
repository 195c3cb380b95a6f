"""The questionnaire and moderation as pages for people, opened through signed links.

HTTP only, as every router: parse the form, call the self-assessment services the API calls
(same validation, errors, audit and tenancy), render. A page acts as its link's respondent: the
answerer or moderator the service receives is the name the link was minted for, so two people
with links from one admin are two people.

Paths, each a link's prefix: ``/v1/self-assessments/{id}/questionnaire`` (action ``answer``)
and ``/v1/self-assessments/{id}/moderation`` (action ``moderate``). Both are for browsers only
(not in the API's document); a script uses the JSON API with its key.
"""

import uuid
from typing import Annotated

import pydantic
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth import browser
from app.auth.links import Link, LinkAction
from app.auth.middleware import AUTH_ERROR
from app.auth.principal import Principal
from app.db import ON_ROLLBACK, ReadsDep, SessionDep, reads_in
from app.errors import (
    AppError,
    BadRequest,
    Conflict,
    Forbidden,
    PreconditionFailed,
    Unauthenticated,
    ValidationFailed,
)
from app.selfassessments import form_actions, forms, moderation_views, views

router = APIRouter(include_in_schema=False)

SelfAssessmentIdPath = Annotated[uuid.UUID, Path(alias="selfAssessmentId")]
QUESTIONNAIRE = "/self-assessments/{selfAssessmentId}/questionnaire"
MODERATION = "/self-assessments/{selfAssessmentId}/moderation"


def page_link(action: LinkAction) -> object:
    """The link session a page was opened under, when it allows ``action``. A bearer caller is
    refused too: these pages are for people with links (a script has the JSON API)."""

    def check(request: Request) -> Link:
        session = browser.session_of(request)
        if session is None:
            error = request.scope.get("state", {}).get(AUTH_ERROR)
            if isinstance(error, AppError):
                raise error
            raise Unauthenticated("This page opens from a signed link.")
        if action not in session.actions:
            raise Forbidden(f"The link does not allow {action}.")
        return session

    return Depends(check)


def form_link(action: LinkAction) -> object:
    """As ``page_link``, for a form: its CSRF token checked first (``browser.link_form``)."""

    def check(
        request: Request, _: Annotated[Principal, Depends(browser.link_form(action))]
    ) -> Link:
        session = browser.session_of(request)
        if session is None:
            raise Forbidden("This form is posted from a page opened by a signed link.")
        return session

    return Depends(check)


AnswerPage = Annotated[Link, page_link(LinkAction.ANSWER)]
AnswerForm = Annotated[Link, form_link(LinkAction.ANSWER)]
ModeratePage = Annotated[Link, page_link(LinkAction.MODERATE)]
ModerateForm = Annotated[Link, form_link(LinkAction.MODERATE)]


async def undo(session: AsyncSession) -> None:
    """Roll back what the form's service calls wrote before one refused: a page that answers
    with the errors is still a refusal, and nothing of a refused form is kept (the unit of
    work would commit what a returned page leaves). What was read is expired with it: read
    again before showing anything."""
    await session.rollback()
    for callback in session.info.pop(ON_ROLLBACK, []):
        await callback()


def see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


# -- The questionnaire -------------------------------------------------------------------------


@router.get(QUESTIONNAIRE, name="self-assessments-questionnaire")
async def questionnaire(
    self_assessment_id: SelfAssessmentIdPath, link: AnswerPage, request: Request
) -> Response:
    """The questionnaire's first area."""
    return see_other(
        str(
            request.url_for(
                "self-assessments-questionnaire-area", selfAssessmentId=self_assessment_id, number=1
            )
        )
    )


@router.get(QUESTIONNAIRE + "/areas/{number}", name="self-assessments-questionnaire-area")
async def area_page(
    self_assessment_id: SelfAssessmentIdPath,
    number: int,
    link: AnswerPage,
    reads: ReadsDep,
    request: Request,
) -> Response:
    """One area's questions, with the answers saved so far."""
    data = await views.load(reads, link.principal(), self_assessment_id)
    if data.submitted:
        return see_other(views.submit_href(request, self_assessment_id))
    return views.area_page(request, data, link, number=number)


@router.post(QUESTIONNAIRE + "/areas/{number}", name="self-assessments-questionnaire-area-save")
async def save_area(
    self_assessment_id: SelfAssessmentIdPath,
    number: int,
    link: AnswerForm,
    session: SessionDep,
    request: Request,
) -> Response:
    """Save the area's answers, then the next area (or this one again, or the errors)."""
    principal = link.acting(LinkAction.ANSWER)
    data = await views.load(reads_in(session), principal, self_assessment_id)
    area = views.area_at(data, number)
    fields = forms.fields_of(await request.body())
    posted, errors = forms.parse_area(area, fields)
    if not errors:
        for question in area.questions:
            answer = posted[question.key]
            if answer.empty:
                continue
            try:
                await form_actions.record(
                    session, principal, data, question.key, answer, link.respondent
                )
            except (ValidationFailed, pydantic.ValidationError) as exc:
                form_actions.answer_errors(errors, question, answer, exc)
            except Conflict as exc:
                # Submitted meanwhile (from another tab or by a colleague): read-only, said on
                # the page that shows the submitted answers rather than as a problem document.
                await undo(session)
                data = await views.load(reads_in(session), link.principal(), self_assessment_id)
                refused = forms.Errors()
                refused.add("submit", exc.detail)
                return views.submit_page(request, data, link, errors=refused, status=exc.status)
    if errors:
        await undo(session)
        data = await views.load(reads_in(session), link.principal(), self_assessment_id)
        return views.area_page(
            request, data, link, number=number, posted=posted, errors=errors, status=422
        )
    stay = forms.first(fields, "go") == "stay"
    if stay:
        return see_other(views.area_href(request, self_assessment_id, number) + "?saved=1")
    if number < len(data.areas):
        return see_other(views.area_href(request, self_assessment_id, number + 1))
    return see_other(views.submit_href(request, self_assessment_id))


@router.get(QUESTIONNAIRE + "/submit", name="self-assessments-questionnaire-submit")
async def submit_page(
    self_assessment_id: SelfAssessmentIdPath, link: AnswerPage, reads: ReadsDep, request: Request
) -> HTMLResponse:
    """What has been answered, and the button that submits it."""
    data = await views.load(reads, link.principal(), self_assessment_id)
    return views.submit_page(request, data, link)


@router.post(QUESTIONNAIRE + "/submit", name="self-assessments-questionnaire-submit-post")
async def submit(
    self_assessment_id: SelfAssessmentIdPath,
    link: AnswerForm,
    session: SessionDep,
    request: Request,
) -> Response:
    """Submit, with the version the page showed (If-Match, carried in a hidden field)."""
    principal = link.acting(LinkAction.ANSWER)
    fields = forms.fields_of(await request.body())
    try:
        await form_actions.submit(
            session, principal, self_assessment_id, forms.first(fields, "if_match"), link.respondent
        )
    except (ValidationFailed, Conflict, PreconditionFailed, BadRequest) as exc:
        await undo(session)
        data = await views.load(reads_in(session), link.principal(), self_assessment_id)
        errors = forms.Errors()
        errors.add(
            "submit", form_actions.submit_refusal(exc, data, forms.first(fields, "if_match"))
        )
        return views.submit_page(request, data, link, errors=errors, status=exc.status)
    return see_other(views.submit_href(request, self_assessment_id))


@router.post(QUESTIONNAIRE + "/" + browser.SIGN_OUT, name="self-assessments-questionnaire-sign-out")
async def sign_out_questionnaire(
    self_assessment_id: SelfAssessmentIdPath, link: AnswerForm, request: Request
) -> HTMLResponse:
    """Close this browser's access to the questionnaire."""
    return browser.closed(request, prefix=link.prefix)


# -- Moderation --------------------------------------------------------------------------------


@router.get(MODERATION, name="self-assessments-moderation")
async def moderation_page(
    self_assessment_id: SelfAssessmentIdPath, link: ModeratePage, reads: ReadsDep, request: Request
) -> HTMLResponse:
    """Every answer, with who gave it, and a decision form for each the moderator did not give."""
    data = await views.load(reads, link.principal(), self_assessment_id)
    saved = request.query_params.get("saved")
    return moderation_views.moderation_page(request, data, link, saved=saved)


@router.post(MODERATION + "/answers/{capabilityKey}", name="self-assessments-moderation-decide")
async def decide(
    self_assessment_id: SelfAssessmentIdPath,
    capability_key: Annotated[str, Path(alias="capabilityKey", max_length=64)],
    link: ModerateForm,
    session: SessionDep,
    request: Request,
) -> Response:
    """Agree with one answer, or change its level with a reason."""
    principal = link.acting(LinkAction.MODERATE)
    data = await views.load(reads_in(session), principal, self_assessment_id)
    question = views.question(data, capability_key)
    decision, errors = forms.parse_decision(question, forms.fields_of(await request.body()))
    if not errors:
        try:
            await form_actions.moderate(
                session, principal, data, question.key, decision, link.respondent
            )
        except (ValidationFailed, pydantic.ValidationError, Conflict, Forbidden) as exc:
            form_actions.decision_errors(errors, question, exc)
    if errors:
        await undo(session)
        data = await views.load(reads_in(session), link.principal(), self_assessment_id)
        return moderation_views.moderation_page(
            request, data, link, failed=question.key, decision=decision, errors=errors, status=422
        )
    return see_other(
        views.moderation_href(request, self_assessment_id)
        + f"?saved={question.key}#answer-{question.key}"
    )


@router.post(MODERATION + "/" + browser.SIGN_OUT, name="self-assessments-moderation-sign-out")
async def sign_out_moderation(
    self_assessment_id: SelfAssessmentIdPath, link: ModerateForm, request: Request
) -> HTMLResponse:
    """Close this browser's access to the moderation page."""
    return browser.closed(request, prefix=link.prefix)
