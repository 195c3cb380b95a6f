"""The self-assessment pages' HTML: Jinja2 with autoescape on (every answer, comment and name
a person typed is escaped), no scripts, one static <style> block allowed by its hash."""

from functools import cache
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from app.auth.headers import CSP_NONCE, content_security_policy
from app.csp import style_block_source
from app.selfassessments import forms


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("app.selfassessments", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        level_id=forms.level_id,
        evidence_id=forms.evidence_id,
        decision_id=forms.decision_id,
        moderated_level_id=forms.moderated_level_id,
        reason_id=forms.reason_id,
    )
    return env


@cache
def stylesheet() -> str:
    env = environment()
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, "pages.css")
    return source


@cache
def style_csp_source() -> str:
    return style_block_source(stylesheet())


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A page under the report's policy: the one style block by its hash, nothing else inline;
    never cached (it shows answers, and the form's CSRF token)."""
    body = environment().get_template(template).render(css=stylesheet(), **context)
    policy = content_security_policy(
        request.scope.get("state", {}).get(CSP_NONCE, ""),
        request.app.state.settings.frame_ancestors,
        styles=[style_csp_source()],
    )
    return HTMLResponse(
        body,
        status_code=status,
        headers={"Content-Security-Policy": policy, "Cache-Control": "no-store"},
    )
