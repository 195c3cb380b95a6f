"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) that work with no internet access.

FastAPI's own pages load their scripts from a public CDN, which many NHS networks cannot reach,
and start Swagger UI with an inline script, which a strict Content-Security-Policy forbids.
These pages take Swagger UI and ReDoc from an installed package (fastapi-standalone-docs
bundles both, with ReDoc's logo served locally instead of from ReDoc's CDN), and are plain
files: no inline script, style or handler. The HTML uses relative addresses, so the pages also
work behind a proxy that serves the API under a path prefix.
"""

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

# Found as package data: the package itself (untyped) is never imported.
VENDOR = Path(str(files("fastapi_standalone_docs") / "static"))
STATIC = Path(__file__).parent / "static"

# What the pages need, and nothing else; data: for the icons inside swagger-ui.css. Sent with
# the pages themselves (the security headers middleware keeps a page's own policy): the app's
# policy for HTML allows inline code by a per-request nonce, which these pages cannot carry.
_BASE_POLICY = (
    "default-src 'none'",
    "script-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
SWAGGER_UI_POLICY = "; ".join((*_BASE_POLICY, "style-src 'self'"))
# ReDoc adds two <style> elements as it loads, allowed by their hashes, not by 'unsafe-inline':
# the empty sheet that styled-components then fills through the CSSOM (which CSP does not
# govern), and the scroll bars' stylesheet (this hash belongs to the bundled ReDoc version: the
# browser test fails, naming the new hash, if an upgrade changes it). Its search index runs in
# a worker made from a blob.
REDOC_STYLE_HASHES = (
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
)
REDOC_POLICY = "; ".join(
    (*_BASE_POLICY, f"style-src 'self' {' '.join(REDOC_STYLE_HASHES)}", "worker-src blob:")
)


def _page(name: str, policy: str) -> FileResponse:
    return FileResponse(
        STATIC / name,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": policy},
    )


async def swagger_ui() -> FileResponse:
    return _page("docs.html", SWAGGER_UI_POLICY)


async def redoc() -> FileResponse:
    return _page("redoc.html", REDOC_POLICY)


def install(app: FastAPI) -> None:
    """Call with ``FastAPI(docs_url=None, redoc_url=None)``: these replace FastAPI's pages."""
    app.add_api_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False)
    # The more specific mount first: Starlette takes the first that matches.
    app.mount("/docs/assets/vendor", StaticFiles(directory=VENDOR), name="docs-vendor")
    app.mount("/docs/assets", StaticFiles(directory=STATIC), name="docs-assets")
    # The bundled ReDoc asks for its logo beside the page: /redoc/logo-mini.svg.
    app.mount("/redoc", StaticFiles(directory=VENDOR / "redoc"), name="docs-redoc")
