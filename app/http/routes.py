"""The route template a request matched (``/v1/assets/{assetId}``), for metrics and the access
log: labelled by raw path, every asset would get time series of its own."""

import re
from typing import Any

import fastapi.routing
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

UNMATCHED = "unmatched"
_STATE_KEY = "matched_route"


class RouteTemplateMiddleware:
    """Innermost layer: the router records the route it matched in the scope it is handed,
    which outer middleware never see (each may pass on a copy). The request state is one dict
    shared by every copy, so the route is copied there for the outer layers to read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            state = scope.get("state")
            if route is not None and isinstance(state, dict):
                state[_STATE_KEY] = route


class RouteTemplates:
    """Every route's full template, read from the app once. A route of an included router
    carries its own path only (FastAPI adds the router's prefix when it matches), so the full
    template is looked up by route."""

    def __init__(self, app: Any) -> None:
        # FastAPI includes routers lazily and lists them with iter_route_contexts; before
        # that, app.routes held every route with its full path.
        contexts = getattr(fastapi.routing, "iter_route_contexts", None)
        if contexts is not None:
            pairs = [(c.original_route, c.path_format) for c in contexts(app.routes)]
        else:
            pairs = [(r, getattr(r, "path_format", None)) for r in app.routes]
        self.by_route = {id(route): str(template) for route, template in pairs if template}
        self.patterns: list[tuple[re.Pattern[str], str]] = [
            # In the router's order, so the first that matches wins, as it does there.
            (compile_path(template)[0], template)
            for template in dict.fromkeys(self.by_route.values())
        ]

    def of(self, scope: Scope) -> str:
        state = scope.get("state")
        route = state.get(_STATE_KEY) if isinstance(state, dict) else None
        if route is not None:
            known = self.by_route.get(id(route))
            return known or str(getattr(route, "path_format", UNMATCHED))
        # Refused before routing (413, an untrusted Host): the template its path would match.
        path = scope.get("path", "")
        return next((t for pattern, t in self.patterns if pattern.match(path)), UNMATCHED)


def route_template(scope: Scope) -> str:
    """The template of the route the request matched, or ``unmatched``."""
    app = scope.get("app")
    if app is None:
        return UNMATCHED
    templates = getattr(app.state, "route_templates", None)
    if templates is None:
        templates = app.state.route_templates = RouteTemplates(app)
    return str(templates.of(scope))
