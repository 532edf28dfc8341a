"""Single sign-on through an OpenID Connect provider: the authorization-code flow with a state
and nonce bound to the browser by a signed cookie, the ID token checked against the provider's
keys (joserfc), then an ordinary visitlens session."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization

from knowledge.errors import Unauthorized, Unavailable
from knowledge.settings import Settings

FLOW_COOKIE = "visitlens_oidc"
FLOW_S = 600  # a sign-in must come back from the provider within ten minutes
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


def _failed(why: str) -> Unauthorized:
    return Unauthorized(
        f"Single sign-on failed: {why} Try again from the sign-in page.", code="sso_failed"
    )


def discover(settings: Settings) -> Provider:
    """The provider's endpoints from its discovery document."""
    issuer = (settings.oidc_issuer or "").rstrip("/")
    try:
        raw = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=TIMEOUT_S)
        raw.raise_for_status()
        doc = raw.json()
        return Provider(
            issuer=doc["issuer"],
            authorization_endpoint=doc["authorization_endpoint"],
            token_endpoint=doc["token_endpoint"],
            jwks_uri=doc["jwks_uri"],
        )
    except (httpx.HTTPError, ValueError, KeyError) as e:
        raise Unavailable(
            f"The sign-on provider at {issuer} did not answer ({e.__class__.__name__}).",
            code="sso_unavailable",
        ) from e


def _sign(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def start(
    settings: Settings, provider: Provider, redirect_uri: str, secret: str
) -> tuple[str, str]:
    """(the provider's authorization URL, the flow cookie binding state and nonce to it)."""
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.oidc_client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid profile email",
            "state": state,
            "nonce": nonce,
        }
    )
    flow = f"{state}.{nonce}"
    return f"{provider.authorization_endpoint}?{query}", f"{flow}.{_sign(secret, flow)}"


def finish(
    settings: Settings,
    provider: Provider,
    *,
    code: str,
    state: str,
    flow_cookie: str,
    redirect_uri: str,
    secret: str,
) -> str:
    """The username the provider vouches for, after checking state, nonce and the ID token."""
    parts = flow_cookie.split(".")
    if len(parts) != 3 or not hmac.compare_digest(
        parts[2], _sign(secret, f"{parts[0]}.{parts[1]}")
    ):
        raise _failed("this browser did not start the sign-in (or it took too long).")
    if not hmac.compare_digest(parts[0], state):
        raise _failed("the answer does not belong to this sign-in.")
    client_secret = settings.oidc_client_secret
    try:
        answer = httpx.post(
            provider.token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": settings.oidc_client_id,
                "client_secret": client_secret.get_secret_value() if client_secret else "",
            },
            timeout=TIMEOUT_S,
        )
        answer.raise_for_status()
        id_token = answer.json()["id_token"]
        keys = httpx.get(provider.jwks_uri, timeout=TIMEOUT_S).json()
    except (httpx.HTTPError, ValueError, KeyError) as e:
        raise _failed(f"the provider refused the code ({e.__class__.__name__}).") from e
    claims = _verified_claims(id_token, keys, provider.issuer, settings.oidc_client_id, parts[1])
    username = claims.get(settings.oidc_username_claim) or claims.get("email")
    if not isinstance(username, str) or not username:
        raise _failed(f"the ID token has no {settings.oidc_username_claim} or email.")
    return username


def _verified_claims(
    id_token: str, keys: dict[str, Any], issuer: str, audience: str, nonce: str
) -> dict[str, Any]:
    try:
        token = jwt.decode(id_token, KeySet.import_key_set(cast(KeySetSerialization, keys)))
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            nonce={"essential": True, "value": nonce},
            exp={"essential": True},
        ).validate(token.claims)
    except (JoseError, ValueError) as e:
        raise _failed(f"the ID token is not valid ({e.__class__.__name__}).") from e
    return dict(token.claims)
