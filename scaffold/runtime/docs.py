"""``GET /docs``: Swagger UI on the service's own ``/openapi.json``, from files in the package.

The page and everything it loads come from this process: Swagger UI's files, which the build
puts in ``docs_assets/swagger-ui/`` (see ``hatch_build.py``), and our init script
``docs_assets/docs.js``. Each asset's URL carries a digest of its bytes
(``/docs/swagger-ui-bundle.<digest>.js``), so browsers may cache it for a year; the page
itself is revalidated. The page's ``Content-Security-Policy`` allows only ``'self'`` (and
``data:`` images, which Swagger UI's stylesheet embeds), so the browser refuses any request to
another host whatever the document says. The files are read once per process, on the first
request, never at import.

Like ``/openapi.json``, these routes are served but not listed (not in the document, not in
``scaffold routes``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any, NamedTuple

import falcon
import falcon.asgi

from scaffold.runtime.openapi import OPENAPI_PATH

DOCS_PATH = "/docs"
ASSET_TEMPLATE = "/docs/{asset}"
ASSETS_DIR = Path(__file__).resolve().parent / "docs_assets"
SWAGGER_UI = "swagger-ui"

PAGE_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
}
# What the page loads: the name it is known by, and its path under ASSETS_DIR.
PAGE_FILES = {
    "swagger-ui.css": f"{SWAGGER_UI}/swagger-ui.css",
    "index.css": f"{SWAGGER_UI}/index.css",
    "favicon-32x32.png": f"{SWAGGER_UI}/favicon-32x32.png",
    "swagger-ui-bundle.js": f"{SWAGGER_UI}/swagger-ui-bundle.js",
    "docs.js": "docs.js",
}
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{swagger-ui.css}">
<link rel="stylesheet" href="{index.css}">
<link rel="icon" type="image/png" sizes="32x32" href="{favicon-32x32.png}">
</head>
<body>
<noscript>This page needs JavaScript. The OpenAPI document is at
<a href="{openapi}">{openapi}</a>.</noscript>
<div id="swagger-ui"></div>
<script src="{swagger-ui-bundle.js}"></script>
<script src="{docs.js}"></script>
</body>
</html>
"""

_PLACEHOLDER = re.compile(r"{([\w.-]+)}")

log = logging.getLogger("scaffold.docs")


class Asset(NamedTuple):
    """One file the page loads, as served."""

    data: bytes
    content_type: str


class DocsFiles(NamedTuple):
    """The page and its assets by URL name, or why they cannot be served."""

    page: bytes
    assets: dict[str, Asset]
    missing: str | None = None


def asset_name(name: str, data: bytes) -> str:
    """The URL name of ``name`` holding ``data``: ``swagger-ui-bundle.<digest>.js``."""
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:16]}{dot}{suffix}"


def load_docs(title: str, folder: Path = ASSETS_DIR) -> DocsFiles:
    """Read the page's files from ``folder`` and render the page titled ``title``."""
    import html  # here, not at import: most workers never serve the page

    assets: dict[str, Asset] = {}
    urls = {"title": html.escape(f"{title} API"), "openapi": OPENAPI_PATH}
    for name, relative in PAGE_FILES.items():
        path = folder / relative
        try:
            data = path.read_bytes()
        except OSError as ex:
            log.warning("GET %s cannot be served: %s", DOCS_PATH, ex)
            why = (
                f"The API docs page is not installed: {relative} is missing from scaffold's "
                "package (reinstall scaffold-chassis). The OpenAPI document is at "
                f"{OPENAPI_PATH}."
            )
            return DocsFiles(b"", {}, missing=why)
        url_name = asset_name(name, data)
        assets[url_name] = Asset(data, CONTENT_TYPES[Path(name).suffix])
        urls[name] = f"{DOCS_PATH}/{url_name}"
    # One pass, so nothing inserted (the title) is read as a placeholder.
    page = _PLACEHOLDER.sub(lambda match: urls[match[1]], _PAGE)
    return DocsFiles(page.encode(), assets)


class _Docs:
    """The files of one service's page, read on first use."""

    def __init__(self, title: str, folder: Path) -> None:
        self._title = title
        self._folder = folder
        self._files: DocsFiles | None = None

    def files(self) -> DocsFiles:
        """The page and its assets; 404 when the package lacks them."""
        if self._files is None:
            # Once per process, on the event loop: a few milliseconds of reading.
            self._files = load_docs(self._title, self._folder)
        if self._files.missing is not None:
            raise falcon.HTTPNotFound(description=self._files.missing)
        return self._files


class DocsPage:
    """``GET /docs``: the HTML page."""

    def __init__(self, docs: _Docs) -> None:
        self._docs = docs

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Serve the Swagger UI page."""
        resp.data = self._docs.files().page
        resp.content_type = "text/html; charset=utf-8"
        resp.cache_control = [PAGE_CACHE]
        resp.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        resp.set_header("X-Content-Type-Options", "nosniff")


class DocsAsset:
    """``GET /docs/{asset}``: a file the page loads, under its digest name."""

    def __init__(self, docs: _Docs) -> None:
        self._docs = docs

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, asset: str
    ) -> None:
        """Serve one asset, cacheable for a year.

        Raises:
            falcon.HTTPNotFound: No asset has this name.
        """
        found = self._docs.files().assets.get(asset)
        if found is None:
            raise falcon.HTTPNotFound(description=f"No resource at {req.path}.")
        resp.data = found.data
        resp.content_type = found.content_type
        resp.cache_control = [ASSET_CACHE]
        resp.set_header("X-Content-Type-Options", "nosniff")


def add_docs_routes(app: falcon.asgi.App[Any, Any], title: str, folder: Path = ASSETS_DIR) -> None:
    """Serve ``/docs`` and its assets on ``app`` (unlisted, like ``/openapi.json``).

    Args:
        app: The app port's Falcon app.
        title: The service's name, for the page's title.
        folder: Where the page's files are (the package's own by default).
    """
    docs = _Docs(title, folder)
    app.add_route(DOCS_PATH, DocsPage(docs))
    app.add_route(ASSET_TEMPLATE, DocsAsset(docs))
