"""The route template a request matched (``/v1/assets/{assetId}``), for metrics and the access
log: labelled by raw path, every asset would get time series of its own."""

import re
from typing import Any

import fastapi.routing
from starlette.routing import Mount, compile_path
from starlette.types import Scope

UNMATCHED = "unmatched"


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
        # Mounted static files (the docs' assets) match no route and leave none in the scope:
        # labelled by their mount (``/docs/assets/{path}``), one label for all their files.
        self.patterns += [
            (route.path_regex, route.path_format)
            for route in app.routes
            if isinstance(route, Mount)
        ]

    def of(self, scope: Scope) -> str:
        # The router records the route it matched in the very scope the edge handed down:
        # every layer passes that scope on, and routing updates it in place.
        route = scope.get("route")
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
