"""HTTP for handing out a self-assessment's pages: a signed link that opens its questionnaire
(``answer``) or its moderation view (``moderate``) for one named person."""

from enum import StrEnum

from fastapi import APIRouter, Request
from pydantic import ConfigDict, Field

from app.api import ApiInput, problem_responses
from app.auth import access, minting
from app.auth.dependencies import PrincipalDep
from app.auth.links import QUERY_PARAMETER, LinkAction, LinkSigner
from app.auth.schemas import SignedLink
from app.db import SessionDep, reads_in
from app.fields import Text100
from app.http.content import JsonBodyRoute
from app.selfassessments import pages, views
from app.vocabulary import Role

router = APIRouter(route_class=JsonBodyRoute, tags=["self-assessments"])


class SelfAssessmentLinkAction(StrEnum):
    """Which pages the link opens."""

    ANSWER = "answer"  # the questionnaire, one area at a time, and its submit step
    MODERATE = "moderate"  # every answer, to agree with or change


class SelfAssessmentLinkRequest(ApiInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"action": "answer", "respondent": "Dr A Patel"},
                {"action": "moderate", "respondent": "J Okafor, ICS analytics lead"},
            ]
        }
    )

    action: SelfAssessmentLinkAction
    respondent: Text100 = Field(
        description="The person the link is for, in words: the pages record their answers "
        "or decisions under this name, and refuse to let them moderate their own answers."
    )


@router.post(
    "/self-assessments/{selfAssessmentId}/links",
    operation_id="self-assessments-link",
    responses=problem_responses(400, 403, 404, 413, 415, 422),
)
async def self_assessment_link(
    self_assessment_id: pages.SelfAssessmentIdPath,
    body: SelfAssessmentLinkRequest,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
) -> SignedLink:
    """A short-lived link that opens this self-assessment's questionnaire (answer) or its
    moderation page (moderate) in a browser, as the named respondent.

    Only an editor or admin of the organisation (or of one above it) may ask. Opening it
    answers 303 See Other to the page with a cookie limited to those pages."""
    access.require_role(principal, Role.EDITOR)
    data = await views.load(reads_in(session), principal, self_assessment_id)
    route = (
        "self-assessments-questionnaire"
        if body.action is SelfAssessmentLinkAction.ANSWER
        else "self-assessments-moderation"
    )
    page = request.url_for(route, selfAssessmentId=self_assessment_id)
    signer: LinkSigner = request.app.state.links
    token, expires_at = minting.mint(
        session,
        signer=signer,
        principal=principal,
        organisation_id=data.organisation_id,
        resource_id=self_assessment_id,
        path=page.path,
        actions=[LinkAction(body.action.value)],
        respondent=body.respondent,
    )
    return SignedLink(
        url=str(page.include_query_params(**{QUERY_PARAMETER: token})), expires_at=expires_at
    )
