"""`/docs` and `/redoc` work without internet: every script, style and icon they reference is
served by the app itself (no CDN)."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from keel.core.settings import Settings
from serving.app import create_app


class _References(HTMLParser):
    """The `src` and `href` attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in {"src", "href"} and value]


def references(page: str) -> list[str]:
    parser = _References()
    parser.feed(page)
    return parser.urls


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
def test_docs_pages_load_every_asset_from_the_server_itself(
    make_settings: Callable[..., Settings], page: str, expected: set[str]
) -> None:
    client = TestClient(create_app(make_settings()))  # no lifespan: the pages need no model
    answer = client.get(page)
    assert answer.status_code == 200
    assert "http://" not in answer.text and "https://" not in answer.text, answer.text
    urls = references(answer.text)
    assert {url.rpartition("/")[2] for url in urls} == expected
    for url in urls:
        assert url.startswith("/docs-assets/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > (1_000 if url.endswith(".png") else 50_000), url
        kind = asset.headers["content-type"]
        suffix = url.rpartition(".")[2]
        assert {"js": "javascript", "css": "text/css", "png": "image/png"}[suffix] in kind


def test_swagger_ui_bundle_renders_the_openapi_version_the_app_publishes(
    make_settings: Callable[..., Settings],
) -> None:
    """FastAPI publishes OpenAPI 3.1, which Swagger UI renders from version 5 on."""
    client = TestClient(create_app(make_settings()))
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    bundle = client.get("/docs-assets/swagger-ui-bundle.js").content
    assert b"spec.openapis.org/oas/3.1" in bundle
    page = client.get("/docs").text
    assert "url: '/openapi.json'" in page and '"validatorUrl": null' in page
