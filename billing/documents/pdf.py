"""HTML to PDF with WeasyPrint, without the network.

Imported only when a document is drawn: WeasyPrint takes about a second to import (Pango,
fonts), which no web request or other worker should pay for.

A document's HTML is ours but carries the studio's and the client's text (names, notes, an
SVG logo), so nothing in it may make the renderer fetch: the fetcher answers ``data:`` URIs
(the logo is embedded as one, read from storage beforehand) and refuses everything else —
``http(s):``, ``file:``, ``ftp:`` — so a document can neither reach the internal network
nor read the server's files.
"""

from __future__ import annotations

import logging

from PIL import ImageFile
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

# WeasyPrint turns on Pillow's process-wide LOAD_TRUNCATED_IMAGES when imported; in a process
# that also reads photos (tests, a worker serving both queues) a truncated upload would then
# decode as grey bands instead of failing. Turned back off: our documents embed only the logo,
# which must be a whole image anyway.
ImageFile.LOAD_TRUNCATED_IMAGES = False

logger = logging.getLogger("billing.documents")


class FetchRefused(ValueError):
    """A document asked for something other than a ``data:`` URI."""


class DocumentFetcher(URLFetcher):
    """Answers ``data:`` URIs only (decoded here, not by urllib)."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False)

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        if not url.startswith("data:"):
            logger.warning("document fetch refused: %s", url[:200])
            raise FetchRefused(f"A document fetches nothing but data: URIs, not {url[:80]!r}.")
        return super().fetch(url, headers)


def html_to_pdf(html: str) -> bytes:
    """The PDF of ``html``. The same HTML gives the same bytes (no creation time is written:
    WeasyPrint takes it only from a ``dcterms.created`` meta, which the templates leave out),
    so two renders of one document racing to storage write the very same file."""
    return HTML(string=html, url_fetcher=DocumentFetcher()).write_pdf()
