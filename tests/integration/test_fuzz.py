"""Schemathesis against the OpenAPI schema, signed in (as an admin) and signed out, on SQLite and
on PostgreSQL, with a fixed seed: whatever it sends, the service answers with a status below 500
in the one error shape, with the statuses and bodies its description documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from knowledge.db import migrate
from knowledge.settings import Settings
from tests.browser.conftest import serve, wait_for_search
from tests.conftest import make_user, settings_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
# revoking its own token would leave the rest of the run signed out (exclude returns a new schema)
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi()).exclude(
    method="DELETE", path="/api/tokens/{token_id}"
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, chroma_url: str
) -> Iterator[dict[str, Any]]:
    overrides: dict[str, Any] = {"chroma_url": chroma_url}  # a real index: search answers
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_database")
    s = settings_for(tmp_path_factory.mktemp("fuzz"), "embedded", max_upload_mb=1, **overrides)
    migrate(s.database_url)
    token = make_user(s, "fuzz-admin")
    auth = {"Authorization": f"Bearer {token}"}
    with serve(s) as url:
        wait_for_search(url, auth)
        yield {"url": url, "auth": auth}


# Every status, content type and JSON body an answer has is one the OpenAPI description
# documents. Not enforced: Starlette's 405 lists the methods of one route, not of the path, and
# the edge refuses some schema-valid values on purpose (NUL characters, dates out of range).
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


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
        case.validate_response(res, checks=CONFORMANCE)
        if res.status_code >= 400 and "json" in str(res.headers.get("content-type", "")):
            shape = {"code", "message"}
            if case.formatted_path.startswith("/v1/"):
                shape |= {"type", "param"}  # OpenAI's shape, what its clients read
            assert set(res.json()["error"]) == shape, res.text[:300]
