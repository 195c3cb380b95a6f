"""The board report as a PDF: the same HTML page, laid out by WeasyPrint on A4.

Tagged (PDF/UA-1: a structure tree, the page's title and language), so a screen reader reads
it in order. The page's print rules (report.css) give the page numbers and keep headings,
rows, figures and short paragraphs whole.

Rendering is CPU-bound, holds the GIL for most of its time and holds the whole laid-out
document in memory. It runs in a worker thread, so the event loop keeps answering other
requests, and one at a time per worker process: a second thread would not finish either sooner
(they share the GIL), only double the memory and slow the loop's own work. Further requests
wait their turn; the service's overload limits bound how many can wait.
"""

import asyncio
import logging
import weakref
from functools import partial
from typing import TYPE_CHECKING

import anyio

from app.report import render
from app.report.service import Report

# The stylesheet is the browser's too: WeasyPrint warns, on every render, of each property
# it does not know (print-color-adjust, var() in SVG), 20-odd lines a request that say nothing
# about the request. Its errors still reach the log.
logging.getLogger("weasyprint").setLevel(logging.ERROR)

if TYPE_CHECKING:
    from weasyprint import URLFetcher

MEDIA_TYPE = "application/pdf"
VARIANT = "pdf/ua-1"

# One limiter per event loop (a limiter belongs to the loop that made it).
_limiters: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter]" = (
    weakref.WeakKeyDictionary()
)


def _fetcher() -> "URLFetcher":
    """Only ``data:`` URLs (the page's own inline icon): WeasyPrint's default fetches http(s),
    ftp and file URLs, so one URL reaching the page (a later template or chart, or escaping
    gone wrong) would make the PDF read the server's files or call its network."""
    from weasyprint import URLFetcher

    return URLFetcher(allowed_protocols={"data"}, allow_redirects=False, timeout=1)


def pdf_bytes(page: str) -> bytes:
    """The PDF of one rendered report page (blocking: call it off the event loop).

    WeasyPrint is imported here, on the first PDF, not with the app: it (with Pango and its
    fonts) costs every process a second at start, and most processes never draw a PDF."""
    from weasyprint import HTML

    document = HTML(string=page, base_url=None, url_fetcher=_fetcher())
    written = document.write_pdf(pdf_variant=VARIANT, pdf_tags=True)
    assert isinstance(written, bytes)  # no target given: the bytes are returned
    return written


def _limiter() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(1)
    return limiter


async def pdf(report: Report) -> bytes:
    page = render.html(report, for_print=True)
    return await anyio.to_thread.run_sync(partial(pdf_bytes, page), limiter=_limiter())
