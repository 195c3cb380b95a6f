"""What a browser meets when it opens a signed link: the exchange of the link for a cookie, the
pages that tell a person a link has expired or access is closed, and the CSRF token a form
posted under the cookie carries.

The exchange: ``GET <page>?link=TOKEN`` answers ``303 See Other`` to the same address without
``link`` (other parameters kept), setting a cookie (``Secure; HttpOnly; SameSite=Lax``, ``Path``
the link's prefix) that holds a session token derived from the link; the token then appears in
neither the address bar, the history nor a printed page's header. It runs inside the rate
limit, so exchanges count against the link's minter like any request.
"""

import html
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from starlette.datastructures import URL
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.headers import CSP_NONCE
from app.auth.links import COOKIE_NAME, QUERY_PARAMETER, Link, LinkAction, LinkSigner
from app.auth.middleware import (
    AUTH_ERROR,
    LINK_EXCHANGE,
    LINK_REFUSED,
    LINK_SESSION,
    PRINCIPAL,
)
from app.auth.principal import Principal
from app.errors import AppError, Forbidden, Unauthenticated
from app.http.negotiation import best_match
from app.http.problems import problem_response
from app.vocabulary import PrincipalKind

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
FORM = "application/x-www-form-urlencoded"
# Where a page opened by link posts to close its access: below the link's prefix, so the
# cookie goes with it (every prefix a link is minted for has this route).
SIGN_OUT = "sign-out"
# reports-get (and any page a link opens) answers this to a ?link= it accepts.
EXCHANGE: dict[str, Any] = {
    "description": "A browser opened a signed link (?link=): it gets a cookie for the page "
    "(Secure, HttpOnly, SameSite=Lax, Path the page, Max-Age at most the link's remaining "
    "time) and is sent to the same address without the link parameter.",
    "headers": {
        "Location": {"schema": {"type": "string"}, "description": "The page, without link."},
        "Set-Cookie": {"schema": {"type": "string"}, "description": "The page's link cookie."},
    },
}
# Pages a link opens: a person who reaches one without a working link is told so in HTML.
LINK_PAGES = frozenset(
    {
        "reports-get",
        "reports-sign-out",
        # app.selfassessments.pages (named here: that package imports this one)
        "self-assessments-questionnaire",
        "self-assessments-questionnaire-area",
        "self-assessments-questionnaire-area-save",
        "self-assessments-questionnaire-submit",
        "self-assessments-questionnaire-submit-post",
        "self-assessments-questionnaire-sign-out",
        "self-assessments-moderation",
        "self-assessments-moderation-decide",
        "self-assessments-moderation-sign-out",
    }
)


class CsrfRefused(Forbidden):
    """A form posted under a link cookie without the token of that cookie's page: the same
    403 FORBIDDEN problem as any refusal, and a page for a person (a page left open while
    the link was opened again elsewhere carries the older session's token)."""


def cookie(value: str, *, path: str, max_age: int) -> str:
    """The link cookie: only over HTTPS (and to localhost, in browsers that allow it), never
    to scripts, never on a cross-site subrequest, only under ``path``."""
    return f"{COOKIE_NAME}={value}; Path={path}; Max-Age={max_age}; Secure; HttpOnly; SameSite=Lax"


class LinkExchangeMiddleware:
    """Answers a request that carries a verified ``?link=`` (marked by the authentication
    middleware) with the redirect and the cookie; everything else passes."""

    def __init__(self, app: ASGIApp, *, links: LinkSigner) -> None:
        self.app = app
        self.links = links

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        link = scope.get("state", {}).get(LINK_EXCHANGE) if scope["type"] == "http" else None
        if not isinstance(link, Link):
            await self.app(scope, receive, send)
            return
        token, seconds = self.links.open_session(link)
        plain = URL(scope=scope).remove_query_params(QUERY_PARAMETER)
        raw = scope.get("raw_path")
        if raw:
            # The path as the browser sent it, still encoded: the decoded one would turn an
            # encoded slash (%2F) into a real one and send the browser to another page.
            plain = plain.replace(path=raw.decode("latin-1"))
        response = Response(
            status_code=303,
            headers={
                "Location": str(plain),
                "Set-Cookie": cookie(token, path=link.prefix, max_age=seconds),
                "Cache-Control": "no-store",
            },
        )
        await response(scope, receive, send)


# -- Forms posted under a link cookie --------------------------------------------------------


def session_of(request: Request) -> Link | None:
    """The link session this request was opened under (its cookie), if any."""
    session = request.scope.get("state", {}).get(LINK_SESSION)
    return session if isinstance(session, Link) else None


def csrf_token(request: Request) -> str | None:
    """For a template: the token its forms carry in a ``csrf_token`` field (None when the page
    was not opened under a link cookie, and needs none)."""
    session = session_of(request)
    if session is None:
        return None
    signer: LinkSigner = request.app.state.links
    return signer.csrf_token(session)


async def _submitted_csrf(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM:
        return None
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    values = fields.get(CSRF_FIELD)
    return values[0] if values else None


def link_form(
    action: LinkAction | None = None,
) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency for a route that takes a form from a page opened by link: the caller's
    bearer credential if it sent one (no cookie, so nothing to forge), else the link cookie's
    session, with a CSRF token bound to it (403 without one that matches) and, when
    ``action`` is given, that action among the link's."""

    async def check(request: Request) -> Principal:
        state = request.scope.get("state", {})
        principal = state.get(PRINCIPAL)
        if isinstance(principal, Principal) and principal.kind is not PrincipalKind.LINK:
            return principal
        session = session_of(request)
        if session is None:
            error = state.get(AUTH_ERROR)
            if isinstance(error, AppError):
                raise error
            raise Unauthenticated("This request needs credentials: 'Authorization: Bearer <key>'.")
        signer: LinkSigner = request.app.state.links
        if not signer.csrf_matches(session, await _submitted_csrf(request)):
            raise CsrfRefused(
                f"The form's CSRF token is missing or wrong: send the page's {CSRF_FIELD} "
                f"field or an {CSRF_HEADER} header (reload the page for a fresh one)."
            )
        if action is not None and action not in session.actions:
            raise Forbidden(f"The link does not allow {action}.")
        return session.principal()

    return check


def access_form(request: Request) -> Markup:
    """The "close this page's access" form for a page opened under a link cookie (empty
    otherwise): it posts to ``<prefix>/sign-out`` with the CSRF token."""
    session = session_of(request)
    token = csrf_token(request)
    if session is None or token is None:
        return Markup("")
    action = f"{session.prefix.rstrip('/')}/{SIGN_OUT}"
    return Markup(
        '<form class="link-access" method="post" action="{action}">'
        '<input type="hidden" name="{field}" value="{token}">'
        '<button type="submit">Close this page\u2019s access</button>'
        "</form>"
    ).format(action=action, field=CSRF_FIELD, token=token)


def closed(request: Request, *, prefix: str) -> HTMLResponse:
    """The answer to a sign-out: the cookie for ``prefix`` cleared, and a page that says so."""
    page = _page(
        request,
        "Access closed",
        "This browser can no longer open the page. To see it again, open a new link from the "
        "person who sent you this one.",
    )
    page.headers["Set-Cookie"] = cookie("", path=prefix, max_age=0)
    page.headers["Cache-Control"] = "no-store"
    return page


# -- Refusals a person reads -----------------------------------------------------------------

_EXPIRED = (
    "This link has expired",
    "Links to this page work for a short time only. Ask the person who sent it for a new one.",
)
_INVALID = (
    "This link does not work",
    "It may have been copied incompletely, or be meant for another page. Ask the person who "
    "sent it for a new one.",
)
_STALE_FORM = (
    "This page is out of date",
    "The page was opened again since, so its button no longer works. Reload the page and try "
    "again.",
)
_NEEDS_LINK = (
    "This page opens from a link",
    "Open the link you were sent. Links work for a short time only: if yours has expired, ask "
    "the person who sent it for a new one.",
)


def _prefers_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    if not accept:
        return False
    try:
        # A tie (*/*, as curl and most clients send) goes to JSON.
        return best_match(["text/html", "application/json"], accept, what="") == "text/html"
    except AppError:
        return False


def _page(request: Request, title: str, text: str, *, status: int = 200) -> HTMLResponse:
    nonce = request.scope.get("state", {}).get(CSP_NONCE, "")
    body = f"""<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{html.escape(title)}</title>
<style nonce="{html.escape(nonce)}">
body {{ margin: 0; font: 17px/1.5 system-ui, -apple-system, "Segoe UI", Arial, sans-serif;
  color: #1d2733; background: #f3f5f8; }}
main {{ max-width: 34rem; margin: 12vh auto; padding: 2rem 2.25rem; background: #fff;
  border-top: 6px solid #005eb8; border-radius: 4px; box-shadow: 0 1px 3px #0002; }}
h1 {{ font-size: 1.5rem; margin: 0 0 .75rem; }}
p {{ margin: 0; }}
</style>
</head>
<body><main><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></main></body>
</html>
"""
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def unauthenticated(request: Request, exc: Exception) -> Response:
    """401 as a page a person reads when a browser (preferring HTML, no bearer header) is
    refused a link, its cookie, or a page links open; the problem+json otherwise."""
    assert isinstance(exc, Unauthenticated)
    state: dict[str, Any] = request.scope.get("state", {})
    refused = state.get(LINK_REFUSED)
    route = request.scope.get("route")
    link_page = getattr(route, "name", None) in LINK_PAGES
    if (
        "authorization" not in request.headers
        and (refused is not None or link_page)
        and _prefers_html(request)
    ):
        title, text = {"expired": _EXPIRED, "invalid": _INVALID}.get(refused or "", _NEEDS_LINK)
        page = _page(request, title, text, status=401)
        page.headers.update(exc.headers)
        return page
    return problem_response(exc, request.scope)


async def refused_form(request: Request, exc: Exception) -> Response:
    """403 as a page a person reads when a browser's form lacks its page's CSRF token."""
    assert isinstance(exc, CsrfRefused)
    if "authorization" not in request.headers and _prefers_html(request):
        return _page(request, *_STALE_FORM, status=403)
    return problem_response(exc, request.scope)
