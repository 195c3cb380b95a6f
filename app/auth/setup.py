"""Wiring access control into an app, in ``create_app``.

Order matters (Starlette's last-added middleware is the outermost):

    install_access(app, settings)    # authentication, then the rate limit
    install_edge(app, settings, ...) # last: outermost (app.http.middleware)

giving, outside in: the edge (IDs, security headers, Host, body size, HEAD, access log),
CORS, the bound on requests in flight, authentication, rate limit, the exchange of a signed
link for its cookie (app.auth.browser), the rest.
"""

import logging

from fastapi import FastAPI

from app.auth.authenticate import Authenticator
from app.auth.browser import CsrfRefused, LinkExchangeMiddleware, refused_form, unauthenticated
from app.auth.links import LinkSigner
from app.auth.middleware import AuthenticationMiddleware
from app.auth.ratelimit import RateLimiter, RateLimitMiddleware
from app.auth.revocations import from_settings as broadcaster_from_settings
from app.config import Settings
from app.errors import Unauthenticated

logger = logging.getLogger("app.auth")


def install_access(app: FastAPI, settings: Settings) -> Authenticator:
    """Authentication, then the rate limit keyed on what it found."""
    if not settings.auth_enabled:
        logger.warning(
            "AUTHENTICATION IS OFF (LHS_AUTH_ENABLED=false): every caller is an admin of the "
            "whole service. Never run like this where anyone else can reach the service."
        )
    authenticator = Authenticator(settings)
    links = LinkSigner(settings)
    app.state.authenticator = authenticator
    app.state.links = links
    # Announces key changes to the other instances, and hears theirs (started by the lifespan).
    app.state.key_changes = broadcaster_from_settings(settings)
    # Innermost: a link is exchanged for its cookie once the rate limit has counted it.
    app.add_middleware(LinkExchangeMiddleware, links=links)
    # A browser refused a link, or reaching a page links open without one, reads a page.
    app.add_exception_handler(Unauthenticated, unauthenticated)
    app.add_exception_handler(CsrfRefused, refused_form)
    app.add_middleware(
        RateLimitMiddleware,
        limiter=RateLimiter.from_settings(settings),
        exempt=settings.rate_limit_exempt_paths,
    )
    app.add_middleware(
        AuthenticationMiddleware,
        authenticator=authenticator,
        links=links,
        enabled=settings.auth_enabled,
    )
    return authenticator
