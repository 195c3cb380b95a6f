"""A small app wired exactly as docs/security.md says create_app will be: the real middleware,
dependencies and problem handlers around a few routes that need a caller."""

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse

from app.auth.dependencies import PrincipalDep, require
from app.auth.headers import CSP_NONCE
from app.auth.principal import Principal
from app.auth.setup import install_access
from app.config import Settings
from app.http.middleware import install_edge
from app.http.problems import install_problem_handlers
from app.transfer.router import LARGE_BODY_PATHS
from app.vocabulary import Role
from tests.conftest import Backend


def build_app(backend: Backend, **overrides: Any) -> FastAPI:
    settings = Settings(database_url=backend.url, **({"rate_limit": "10000/minute"} | overrides))
    app = FastAPI()
    install_problem_handlers(app)
    install_access(app, settings)
    install_edge(app, settings, large_paths=LARGE_BODY_PATHS)
    app.state.sessions = backend.app.state.sessions

    @app.get("/_ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/whoami")
    async def whoami(principal: PrincipalDep) -> dict[str, Any]:
        return {
            "subject": principal.subject,
            "kind": principal.kind.value,
            "role": principal.role.value,
            "organisationId": str(principal.organisation_id) if principal.organisation_id else None,
        }

    @app.post("/v1/things", status_code=201)
    async def create_thing(principal: Principal = Depends(require(Role.EDITOR))) -> dict[str, str]:
        return {"by": principal.subject}

    @app.post("/v1/report-links")
    async def report_link(principal: PrincipalDep, request: Request) -> dict[str, str]:
        token = request.app.state.links.sign(principal, "/v1/report")
        return {"url": f"/v1/report?link={token}"}

    @app.get("/v1/report")
    async def report(principal: PrincipalDep, request: Request) -> HTMLResponse:
        nonce = request.scope["state"][CSP_NONCE]
        return HTMLResponse(
            f"<style nonce='{nonce}'>h1 {{color: teal}}</style><h1>{principal.subject}</h1>",
            headers={"Server": "leaky/1.0"},
        )

    return app
