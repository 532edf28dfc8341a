"""Single sign-on against a local stub OpenID Connect provider: the code flow signs a known user
in; a forged state, a token for another client or an unknown user is refused."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Form
from fastapi.responses import RedirectResponse
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from api.app import create_app
from evals.servers import free_port
from knowledge.db import migrate
from knowledge.models import Role
from tests.conftest import make_user, settings_for

pytestmark = pytest.mark.integration
CLIENT_ID, CLIENT_SECRET = "visitlens", "stub-secret"


class Stub:
    """The provider: it signs in whoever the test says, as if they had typed a password."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
        self.url = ""
        self.who = "mei"
        self.audience = CLIENT_ID
        self.codes: dict[str, str] = {}  # code: nonce
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, str]:
            return {
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "jwks_uri": f"{self.url}/jwks",
            }

        @app.get("/authorize")
        def authorize(redirect_uri: str, state: str, nonce: str, client_id: str) -> Any:
            assert client_id == CLIENT_ID
            code = uuid.uuid4().hex
            self.codes[code] = nonce
            return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}")

        @app.post("/token")
        def token(code: str = Form(), client_secret: str = Form()) -> dict[str, str]:
            assert client_secret == CLIENT_SECRET
            now = int(time.time())
            claims = {
                "iss": self.url,
                "aud": self.audience,
                "sub": self.who,
                "preferred_username": self.who,
                "nonce": self.codes.pop(code),
                "iat": now,
                "exp": now + 300,
            }
            return {"id_token": jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)}

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return KeySet([self.key]).as_dict(private=False)

        self.app = app


@pytest.fixture(scope="module")
def stub() -> Iterator[Stub]:
    provider = Stub()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(provider.app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    provider.url = f"http://127.0.0.1:{port}"
    yield provider
    server.should_exit = True
    thread.join(timeout=10)


def _client(tmp_path: Path, stub: Stub, **overrides: Any) -> tuple[TestClient, Any]:
    settings = settings_for(
        tmp_path,
        "embedded",
        oidc_issuer=stub.url,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        **overrides,
    )
    migrate(settings.database_url)
    return TestClient(create_app(settings)), settings


def _sign_on(client: TestClient) -> Any:
    """Through the provider and back, as a browser would; the callback's answer."""
    start = client.get("/api/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 303
    to_provider = httpx.get(start.headers["location"], follow_redirects=False)
    back = urlparse(to_provider.headers["location"])
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)


def test_single_sign_on_signs_a_known_user_in(tmp_path: Path, stub: Stub) -> None:
    client, settings = _client(tmp_path, stub)
    make_user(settings, "mei", Role.TRAINER)
    stub.who = "mei"
    with client:
        assert client.get("/api/auth/methods").json() == {"password": True, "oidc": True}
        done = _sign_on(client)
        assert (done.status_code, done.headers["location"]) == (303, "/")
        me = client.get("/api/auth/me").json()
        assert me["user"]["username"] == "mei" and me["csrf_token"]


def test_a_forged_state_or_a_token_for_another_client_is_refused(
    tmp_path: Path, stub: Stub
) -> None:
    client, settings = _client(tmp_path, stub)
    make_user(settings, "mei", Role.REP)
    stub.who = "mei"
    with client:
        start = client.get("/api/auth/oidc/login", follow_redirects=False)
        back = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
        query = parse_qs(urlparse(back).query)
        forged = client.get(
            "/api/auth/oidc/callback", params={"code": query["code"][0], "state": "forged"}
        )
        assert (forged.status_code, forged.json()["error"]["code"]) == (401, "sso_failed")
        stub.audience = "another-app"
        try:
            res = _sign_on(client)
        finally:
            stub.audience = CLIENT_ID
        assert (res.status_code, res.json()["error"]["code"]) == (401, "sso_failed")
        assert client.get("/api/auth/me").status_code == 401


def test_an_unknown_user_needs_an_account_unless_a_default_role_is_set(
    tmp_path: Path, stub: Stub
) -> None:
    stub.who = "newcomer"
    client, _ = _client(tmp_path / "closed", stub)
    with client:
        res = _sign_on(client)
        assert (res.status_code, res.json()["error"]["code"]) == (403, "sso_no_account")
    client, _ = _client(tmp_path / "open", stub, oidc_default_role="rep")
    with client:
        assert _sign_on(client).status_code == 303
        assert client.get("/api/auth/me").json()["user"]["role"] == "rep"


def test_without_a_provider_single_sign_on_is_off(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "embedded")
    migrate(settings.database_url)
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/auth/methods").json()["oidc"] is False
        res = client.get("/api/auth/oidc/login", follow_redirects=False)
        assert (res.status_code, res.json()["error"]["code"]) == (404, "sso_off")
