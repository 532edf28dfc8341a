"""The page's vendored chart library: served by the app itself, shipped with the package."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from api.app import WEB


def test_the_chart_library_is_served_from_the_app_without_signing_in(api: TestClient) -> None:
    res = api.get("/vendor/chart.umd.min.js", headers={"Authorization": ""})
    assert res.status_code == 200
    assert res.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert res.headers["x-content-type-options"] == "nosniff"
    assert res.text.startswith("/*!\n * Chart.js v4.")
    assert "sourceMappingURL" not in res.text  # nothing else is asked for at run time


def test_the_page_loads_scripts_from_this_server_only() -> None:
    page = (WEB / "index.html").read_text()
    sources = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", page)
    assert "/vendor/chart.umd.min.js" in sources
    assert all(src.startswith("/") and not src.startswith("//") for src in sources)
    readme = (WEB / "vendor" / "README.md").read_text()
    assert "4.6.2" in readme and "MIT" in readme


def test_a_missing_or_escaping_vendor_path_is_a_clear_404(api: TestClient) -> None:
    for path in ("/vendor/nope.js", "/vendor/../app.py", "/vendor/%2e%2e/app.py"):
        res = api.get(path)
        assert res.status_code == 404, path
        assert res.json()["error"]["code"] == "not_found", path
