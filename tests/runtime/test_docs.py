"""GET /docs: Swagger UI on /openapi.json, its files served from the package, via falcon.testing."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import falcon.asgi
import pytest
from falcon import testing

from scaffold.runtime import Service, parse_config
from scaffold.runtime.docs import (
    ASSET_CACHE,
    ASSETS_DIR,
    CONTENT_SECURITY_POLICY,
    add_docs_routes,
)

PROBLEM = "application/problem+json"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
}
# A reference to another host: a scheme, or a protocol-relative "//host".
FOREIGN = re.compile(r"[a-z][a-z0-9+.-]*://|(?<![:/\w])//[\w.-]", re.IGNORECASE)


class _Links(HTMLParser):
    """Every href and src of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("href", "src") and value]


def _links(page: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    return parser.urls


def _assets(client: testing.TestClient) -> list[str]:
    """The URLs of the files the page loads (every link but the OpenAPI document)."""
    return [url for url in _links(client.simulate_get("/docs").text) if url != "/openapi.json"]


def _problem(result: testing.Result, status: int) -> dict:
    assert result.status_code == status
    assert result.headers["content-type"] == PROBLEM
    return result.json


@pytest.fixture
def client(example_service: Service) -> testing.TestClient:
    """A test client on the example service, /docs on (the default)."""
    return testing.TestClient(example_service.app)


def test_page_is_html_under_a_self_only_policy(client: testing.TestClient) -> None:
    """The page is HTML, revalidated, and its CSP names no source but 'self', 'none' and data:."""
    result = client.simulate_get("/docs")
    assert result.status_code == 200
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    assert result.headers["cache-control"] == "no-cache"
    assert result.headers["x-content-type-options"] == "nosniff"
    policy = result.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    for sources in directives.values():
        assert set(sources.split()) <= {"'self'", "'none'", "data:"}, sources
    assert "<title>example API</title>" in result.text
    assert '<div id="swagger-ui">' in result.text


def test_page_has_no_inline_script(client: testing.TestClient) -> None:
    """Every script is a file of our own: the CSP needs no 'unsafe-inline'."""
    page = client.simulate_get("/docs").text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.DOTALL)
    assert len(scripts) == 2
    for attributes, body in scripts:
        assert 'src="/docs/' in attributes
        assert body.strip() == ""
    assert " on" not in re.sub(r"<noscript>.*?</noscript>", "", page, flags=re.DOTALL).lower()


def test_page_and_init_script_name_no_other_host(client: testing.TestClient) -> None:
    """Every link is a path on this origin; the init script points at /openapi.json."""
    page = client.simulate_get("/docs").text
    links = _links(page)
    assert "/openapi.json" in links
    for url in links:
        assert url.startswith("/") and not url.startswith("//"), url
    assert not FOREIGN.search(page)
    (init,) = [url for url in links if url.startswith("/docs/docs.")]
    script = client.simulate_get(init).text
    literals = re.findall(r'"([^"\\]*)"', script)
    assert "/openapi.json" in literals
    assert not [text for text in literals if FOREIGN.search(text)]
    assert "validatorUrl: null" in script


def test_assets_are_served_with_their_type_and_cached_for_a_year(
    client: testing.TestClient,
) -> None:
    """Each file the page loads answers with its type, immutable caching and its digest."""
    urls = _assets(client)
    names = {re.sub(r"\.[0-9a-f]{16}(?=\.\w+$)", "", url.rsplit("/", 1)[1]) for url in urls}
    assert names == {
        "swagger-ui.css",
        "index.css",
        "favicon-32x32.png",
        "swagger-ui-bundle.js",
        "docs.js",
    }
    for url in urls:
        result = client.simulate_get(url)
        assert result.status_code == 200, url
        assert result.headers["content-type"] == TYPES[Path(url).suffix]
        assert result.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert result.headers["x-content-type-options"] == "nosniff"
        digest = url.rsplit(".", 2)[1]
        assert hashlib.sha256(result.content).hexdigest().startswith(digest)
    bundle = next(url for url in urls if "swagger-ui-bundle" in url)
    shipped = ASSETS_DIR / "swagger-ui" / "swagger-ui-bundle.js"
    assert client.simulate_get(bundle).content == shipped.read_bytes()


def test_head_answers_like_get_without_a_body(client: testing.TestClient) -> None:
    """HEAD on the page and on an asset: same status and headers, no body."""
    for url in ["/docs", *_assets(client)]:
        got = client.simulate_get(url)
        head = client.simulate_head(url)
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == str(len(got.content))
        assert head.headers["content-type"] == got.headers["content-type"]


@pytest.mark.parametrize(
    "path",
    ["/docs/nope.js", "/docs/swagger-ui-bundle.js", "/docs/SOURCE.json", "/docs/LICENSE"],
    ids=["unknown", "without-digest", "record", "licence"],
)
def test_unknown_asset_is_404_problem(client: testing.TestClient, path: str) -> None:
    """Only the files the page loads, under their digest names, are served."""
    assert _problem(client.simulate_get(path), 404)["detail"] == f"No resource at {path}."


def test_openapi_false_serves_no_docs(make_example, client: testing.TestClient) -> None:
    """openapi: false turns off /docs and its assets with the document."""
    asset = _assets(client)[0]
    service = make_example(parse_config("openapi: false", env={}))
    off = testing.TestClient(service.app)
    for path in ("/docs", asset):
        _problem(off.simulate_get(path), 404)


def test_docs_routes_are_served_but_not_listed(example_service: Service) -> None:
    """Like /openapi.json, /docs is in neither the document nor the route table."""
    templates = [route.template for route in example_service.routes()]
    assert not [t for t in templates if t.startswith(("/docs", "/openapi"))]
    paths = testing.TestClient(example_service.app).simulate_get("/openapi.json").json["paths"]
    assert not [path for path in paths if path.startswith("/docs")]


def test_page_title_is_escaped() -> None:
    """The service's name reaches the page as text, never as markup."""
    page = testing.TestClient(Service("<b>&co{docs.js}").app).simulate_get("/docs").text
    assert "<title>&lt;b&gt;&amp;co{docs.js} API</title>" in page


def _bare_service() -> Service:
    return Service("bare", parse_config("openapi: false", env={}))


def test_files_are_read_on_first_request_then_kept(tmp_path: Path) -> None:
    """Nothing is read when the routes are added; the first request reads the files once."""
    folder = tmp_path / "docs_assets"
    service = _bare_service()
    add_docs_routes(service.app, "bare", folder)  # the folder does not exist yet
    shutil.copytree(ASSETS_DIR, folder)
    client = testing.TestClient(service.app)
    assert client.simulate_get("/docs").status_code == 200
    shutil.rmtree(folder)
    assert client.simulate_get("/docs").status_code == 200
    for url in _assets(client):
        assert client.simulate_get(url).status_code == 200


def test_missing_files_answer_404_naming_the_problem(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken install: /docs answers 404 problem+json saying what is missing, and logs it."""
    folder = tmp_path / "docs_assets"
    shutil.copytree(ASSETS_DIR, folder)
    (folder / "swagger-ui" / "swagger-ui-bundle.js").unlink()
    service = _bare_service()
    add_docs_routes(service.app, "bare", folder)
    client = testing.TestClient(service.app)
    with caplog.at_level(logging.WARNING, logger="scaffold.docs"):
        detail = _problem(client.simulate_get("/docs"), 404)["detail"]
    assert "not installed" in detail
    assert "swagger-ui/swagger-ui-bundle.js" in detail
    assert "reinstall scaffold-chassis" in detail
    assert "swagger-ui-bundle.js" in caplog.text
    _problem(client.simulate_get("/docs/docs.0123456789abcdef.js"), 404)


def test_a_service_route_at_docs_takes_the_page_s_place() -> None:
    """A service that serves /docs itself keeps it; a path under /docs of its own still works."""

    class Mine:
        async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
            resp.media = {"mine": True}

    service = Service("own")
    service.add_route("/docs", Mine())
    service.add_route("/docs/guide", Mine())
    client = testing.TestClient(service.app)
    assert client.simulate_get("/docs").json == {"mine": True}
    assert client.simulate_get("/docs/guide").json == {"mine": True}


def test_readme_states_the_served_headers() -> None:
    """The README's copy of the page's policy and the assets' caching matches the code."""
    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    assert f"Content-Security-Policy: {CONTENT_SECURITY_POLICY}" in readme
    assert f"Cache-Control: {ASSET_CACHE}" in readme
    assert "serve `/openapi.json` and its interactive page `/docs`" in readme
