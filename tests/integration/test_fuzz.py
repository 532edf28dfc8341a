"""Schemathesis against the OpenAPI schema, signed in (as an admin) and signed out, on SQLite and
on PostgreSQL, with a fixed seed: whatever it sends, the service answers with a status below 500
in the one error shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from api.app import create_app
from knowledge.db import migrate
from knowledge.settings import Settings
from tests.browser.conftest import serve
from tests.conftest import make_user, settings_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
# revoking its own token would leave the rest of the run signed out (exclude returns a new schema)
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi()).exclude(
    method="DELETE", path="/api/tokens/{token_id}"
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    overrides: dict[str, Any] = {}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_database")
    s = settings_for(tmp_path_factory.mktemp("fuzz"), "embedded", max_upload_mb=1, **overrides)
    migrate(s.database_url)
    token = make_user(s, "fuzz-admin")
    with serve(s) as url:
        yield {"url": url, "auth": {"Authorization": f"Bearer {token}"}}


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_request_makes_the_service_fail(case: Any, served: dict[str, Any]) -> None:
    for headers in (served["auth"], {}):
        res = case.call(base_url=served["url"], headers=headers)
        assert res.status_code < 500, (case.method, case.formatted_path, res.text[:300])
        if res.status_code >= 400 and "json" in str(res.headers.get("content-type", "")):
            shape = {"code", "message"}
            if case.formatted_path.startswith("/v1/"):
                shape |= {"type", "param"}  # OpenAI's shape, what its clients read
            assert set(res.json()["error"]) == shape, res.text[:300]
