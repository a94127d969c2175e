"""The interactive docs work offline: /docs and /redoc reference only this server's own assets
(shipped by fastapi-offline), and those assets are served."""

from __future__ import annotations

import re

import httpx
import pytest

# Every URL a page can make the browser load: src/href attributes and Swagger UI's spec url.
ASSET_REFS = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|\burl:\s*["']([^"']+)["']""")
KINDS = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def refs(html: str) -> list[str]:
    return [a or b for a, b in ASSET_REFS.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets(api_url: str, page: str) -> None:
    response = httpx.get(f"{api_url}{page}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = refs(response.text)
    assert urls, response.text
    remote = [u for u in urls if "://" in u or u.startswith("//")]
    assert remote == [], f"{page} loads {remote} from elsewhere"
    assert "/openapi.json" in urls or 'spec-url="/openapi.json"' in response.text
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts, urls  # the page's application itself comes from here
    for url in urls:
        asset = httpx.get(f"{api_url}{url}")
        assert asset.status_code == 200, url
        kind = next((k for suffix, k in KINDS.items() if url.endswith(suffix)), None)
        if kind is not None:
            assert kind in asset.headers["content-type"], (url, asset.headers["content-type"])
            assert len(asset.content) > 100, url
    if page == "/docs":
        assert '"validatorUrl": null' in response.text  # no badge fetched from swagger.io
