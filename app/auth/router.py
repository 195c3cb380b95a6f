"""HTTP for access control: API keys, the audit trail, and signed links for browsers."""

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

from app.api import problem_responses
from app.audit import service as audit
from app.auth import access, browser, keys_service, minting, revocations
from app.auth.dependencies import PrincipalDep
from app.auth.links import QUERY_PARAMETER, LinkSigner
from app.auth.principal import Principal
from app.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    ApiKeyPublic,
    ApiKeyRotate,
    ApiKeyRotated,
    AuditEventPage,
    AuditEventPublic,
    AuditFilters,
    SignedLink,
    SignedLinkRequest,
)
from app.config import Settings
from app.db import SessionDep, reads_in
from app.http.content import JsonBodyRoute
from app.http.links import PageDep, build_page
from app.http.params import OrganisationIdPath
from app.vocabulary import Role

logger = logging.getLogger("app.auth")

router = APIRouter(route_class=JsonBodyRoute)

ApiKeyIdPath = Annotated[uuid.UUID, Path(alias="apiKeyId")]

# Sent when other running instances may act on what they knew of the key for a while yet (no
# Redis to announce the change to them): the number of seconds, the key cache's time to live.
PROPAGATION_HEADER = "LHS-Propagation-Delay"
_PROPAGATION: dict[str, Any] = {
    PROPAGATION_HEADER: {
        "description": "Present when the change is not announced to other running instances "
        "(no LHS_REDIS_URL): for up to this many seconds they may still accept the key (or "
        "its old secret) as it was.",
        "schema": {"type": "integer"},
    }
}


def _say_propagation(request: Request, response: Response) -> None:
    delay = revocations.delay_seconds(request.app.state.settings)
    if delay > 0:
        response.headers[PROPAGATION_HEADER] = str(int(-(-delay // 1)))


@router.post(
    "/api-keys",
    operation_id="api-keys-create",
    status_code=status.HTTP_201_CREATED,
    tags=["api-keys"],
    responses=problem_responses(400, 403, 413, 415, 422),
)
async def create_api_key(
    data: ApiKeyCreate,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
) -> ApiKeyCreated:
    """Create an API key (admins, within their scope); the secret is shown this once.

    It always expires: at most the service's maximum key lifetime after creation (365 days
    unless the service is configured otherwise), and at that maximum when expiresAt is omitted.

    No Idempotency-Key here: a stored response would keep the secret, which is never stored."""
    settings: Settings = request.app.state.settings
    row, key = await keys_service.create(
        session, principal=principal, data=data, max_lifetime=settings.api_key_max_lifetime
    )
    response.headers["Location"] = str(request.url_for("api-keys-get", apiKeyId=row.id))
    return ApiKeyCreated.model_validate(row.model_dump() | {"key": key})


@router.get(
    "/api-keys",
    operation_id="api-keys-list",
    tags=["api-keys"],
    responses=problem_responses(400, 403, 422),
)
async def list_api_keys(
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
    page: PageDep,
) -> ApiKeyPage:
    """API keys in the caller's scope, oldest first (never their secrets)."""
    rows = await keys_service.list_page(session, principal=principal, page=page)
    return build_page(request, rows, page, ApiKeyPublic.model_validate).model(ApiKeyPage, response)


@router.get(
    "/api-keys/{apiKeyId}",
    name="api-keys-get",
    operation_id="api-keys-get",
    tags=["api-keys"],
    responses=problem_responses(403, 404, 422),
)
async def get_api_key(
    api_key_id: ApiKeyIdPath, principal: PrincipalDep, session: SessionDep
) -> ApiKeyPublic:
    """One API key (never its secret)."""
    row = await keys_service.get(session, principal=principal, key_id=api_key_id)
    return ApiKeyPublic.model_validate(row)


@router.delete(
    "/api-keys/{apiKeyId}",
    operation_id="api-keys-revoke",
    status_code=status.HTTP_204_NO_CONTENT,
    # No body, so no Content-Type either (the default JSON class would still send one).
    response_class=Response,
    tags=["api-keys"],
    responses={
        204: {"description": "Revoked.", "headers": _PROPAGATION},
        **problem_responses(403, 404, 422),
    },
)
async def revoke_api_key(
    api_key_id: ApiKeyIdPath,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
) -> None:
    """Revoke an API key (no If-Match needed; revoking again changes nothing).

    It stops working at once on every instance where LHS_REDIS_URL is configured; otherwise
    other running instances may accept it for up to the seconds the LHS-Propagation-Delay
    header gives (their key cache's time to live)."""
    await keys_service.revoke(session, principal=principal, key_id=api_key_id)
    _say_propagation(request, response)


@router.post(
    "/api-keys/{apiKeyId}/rotate",
    operation_id="api-keys-rotate",
    tags=["api-keys"],
    responses={
        200: {"description": "The new secret, shown this once.", "headers": _PROPAGATION},
        **problem_responses(
            400,
            403,
            404,
            409,
            413,
            415,
            422,
            conflict="The key is revoked or expired: make a new one.",
        ),
    },
)
async def rotate_api_key(
    api_key_id: ApiKeyIdPath,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
    options: ApiKeyRotate | None = None,
) -> ApiKeyRotated:
    """Replace a key's secret: the same key (id, prefix, role, scope and expiry, which a
    rotation never moves) with a new secret, shown this once. The old secret keeps working
    for the grace period asked for (at most 24 hours, one hour unless said), then is refused.

    No Idempotency-Key here: a stored response would keep the secret, which is never stored."""
    row, key = await keys_service.rotate(
        session, principal=principal, key_id=api_key_id, data=options or ApiKeyRotate()
    )
    _say_propagation(request, response)
    return ApiKeyRotated.model_validate(row.model_dump() | {"key": key})


@router.get(
    "/audit-events",
    operation_id="audit-events-list",
    tags=["audit-events"],
    responses=problem_responses(400, 403, 422),
)
async def list_audit_events(
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
    page: PageDep,
    filters: Annotated[AuditFilters, Query()],
) -> AuditEventPage:
    """Who changed what and when, in the caller's scope, oldest first (admins)."""
    access.require_role(principal, Role.ADMIN)
    rows = await audit.list_page(
        session,
        principal=principal,
        page=page,
        organisation_id=filters.organisation_id,
        action=filters.action,
        resource_type=filters.resource_type,
        resource_id=filters.resource_id,
        actor=filters.actor,
        since=filters.since,
    )
    # Events are ordered by when they occurred (audit.list_page): the cursor must be too.
    return build_page(
        request,
        rows,
        page,
        AuditEventPublic.model_validate,
        sort_key=lambda event: (event.occurred_at, event.id),
    ).model(AuditEventPage, response)


@router.post(
    "/organisations/{organisationId}/report-link",
    operation_id="reports-link",
    tags=["reports"],
    responses=problem_responses(400, 404, 413, 415, 422),
)
async def report_link(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    options: SignedLinkRequest | None = None,
) -> SignedLink:
    """A short-lived link to the board report that a browser can open without a bearer header
    (read-only, this page only, within the caller's scope).

    Opening it answers 303 See Other to the report's plain address with a cookie limited to
    that page (its CSV and other formats included) for at most the link's remaining time, so
    the token leaves the address bar and the history."""
    await access.organisation(reads_in(session), principal, organisation_id)
    signer: LinkSigner = request.app.state.links
    report = request.url_for("reports-get", organisationId=organisation_id)
    token, expires_at = minting.mint(
        session,
        signer=signer,
        principal=principal,
        organisation_id=organisation_id,
        resource_id=organisation_id,
        path=report.path,
        respondent=options.respondent if options is not None else None,
    )
    return SignedLink(
        url=str(report.include_query_params(**{QUERY_PARAMETER: token})), expires_at=expires_at
    )


_FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            browser.FORM: {
                "schema": {
                    "type": "object",
                    "properties": {
                        browser.CSRF_FIELD: {
                            "type": "string",
                            "description": "The token the page's form carries; or send it in "
                            f"{browser.CSRF_HEADER}. Needed only under a link cookie.",
                        }
                    },
                },
                "example": {browser.CSRF_FIELD: "kq3vX0c2…"},
            }
        },
    }
}
_CLOSED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Access closed: the page's link cookie is cleared (Max-Age=0), and a "
        "short page says so.",
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
}


async def sign_out_of_report(
    organisation_id: OrganisationIdPath,
    session: SessionDep,
    request: Request,
    principal: Annotated[Principal, Depends(browser.link_form())],
) -> HTMLResponse:
    """Close a browser's access to the report: the form on a report opened by link posts here.

    Under the link's cookie the form's CSRF token is required (403 without it); a caller with
    a bearer header needs none (it has no cookie to clear)."""
    await access.organisation(reads_in(session), principal, organisation_id)
    report = request.url_for("reports-get", organisationId=organisation_id)
    return browser.closed(request, prefix=report.path)


# A form, not JSON: outside the JSON-only route class of this router's other routes.
router.add_api_route(
    "/organisations/{organisationId}/report/" + browser.SIGN_OUT,
    sign_out_of_report,
    methods=["POST"],
    name="reports-sign-out",
    operation_id="reports-sign-out",
    tags=["reports"],
    response_class=HTMLResponse,
    responses={**_CLOSED, **problem_responses(401, 403, 404, 413, 422)},
    openapi_extra=_FORM_BODY,
    route_class_override=APIRoute,
)
