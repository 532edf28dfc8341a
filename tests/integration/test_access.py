"""Roles and sign-in: every route refuses the roles its rule leaves out (the table is generated
from the route list), sessions need their CSRF token, tokens can be revoked, admins manage users
and read the audit log, which nobody can edit."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from api.access import API_PREFIX, PUBLIC, api_routes, check_rules, rule_of
from api.accounts_cli import ensure_admin
from api.app import ROUTERS, create_app
from knowledge.db import make_engine, make_sessionmaker, migrate
from knowledge.models import ApiToken, Role, User
from tests.conftest import make_user, settings_for

pytestmark = pytest.mark.integration
PASSWORD = "a long enough password"
PARAMS = {"visit_id": "v-none", "name": "someone", "idx": "0"}


def error_code(res: Any) -> str:
    code: str = res.json()["error"]["code"]
    return code


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The API on embedded settings with one signed-in client per role."""
    settings = settings_for(tmp_path_factory.mktemp("access"), "embedded")
    migrate(settings.database_url)
    with TestClient(create_app(settings)) as client:
        tokens = {
            role: make_user(settings, f"{role}-user", role, password=PASSWORD, teams=("north",))
            for role in Role
        }
        yield {"client": client, "tokens": tokens, "settings": settings}


def call(site: dict[str, Any], method: str, path: str, role: Role | None) -> Any:
    headers = {"Authorization": f"Bearer {site['tokens'][role]}"} if role else {}
    return site["client"].request(method, path, headers=headers)


ROUTES = [
    (method, API_PREFIX + re.sub(r"{(\w+)}", lambda m: PARAMS.get(m.group(1), "99999"), r.path), r)
    for method, r in api_routes(ROUTERS)
]


@pytest.mark.parametrize(
    ("method", "path", "route"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES]
)
def test_every_route_refuses_the_roles_its_rule_leaves_out(
    site: dict[str, Any], method: str, path: str, route: Any
) -> None:
    allowed = rule_of(route, method)
    assert allowed is not None, f"{method} {path} has no rule in api/access.py"
    if allowed == PUBLIC:
        assert call(site, method, path, None).status_code != 401
        return
    signed_out = call(site, method, path, None)
    assert (signed_out.status_code, error_code(signed_out)) == (401, "unauthorized")
    for role in set(Role) - allowed:
        res = call(site, method, path, role)
        assert (res.status_code, error_code(res)) == (403, "forbidden"), (role, res.text)
    for role in allowed:
        assert call(site, method, path, role).status_code not in (401, 403), role


def test_a_route_without_a_rule_stops_the_app_from_starting() -> None:
    router = APIRouter()

    @router.get("/something-new")
    def something_new() -> None: ...

    check_rules(ROUTERS)
    with pytest.raises(RuntimeError, match="GET /api/something-new"):
        check_rules((*ROUTERS, router))


def test_only_health_and_login_answer_without_credentials(site: dict[str, Any]) -> None:
    assert call(site, "GET", "/api/health", None).status_code == 200
    assert call(site, "GET", "/", None).status_code == 200  # the page: its sign-in form
    for path in ("/api/visits", "/docs", "/openapi.json"):
        res = site["client"].get(path)
        assert (res.status_code, error_code(res)) == (401, "unauthorized"), path
    for path in ("/docs", "/openapi.json"):  # for everyone signed in
        assert call(site, "GET", path, Role.PRODUCT).status_code == 200


def test_a_wrong_or_revoked_token_is_refused(site: dict[str, Any]) -> None:
    client: TestClient = site["client"]
    res = client.get("/api/visits", headers={"Authorization": "Bearer vl_not-a-token"})
    assert (res.status_code, error_code(res)) == (401, "invalid_token")
    rep = {"Authorization": f"Bearer {site['tokens'][Role.REP]}"}
    made = client.post("/api/tokens", json={"name": "laptop"}, headers=rep)
    assert made.status_code == 201
    secret = made.json()["token"]
    mine = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/auth/me", headers=mine).json()["user"]["username"] == "rep-user"
    listed = client.get("/api/tokens", headers=rep).json()
    assert all("token" not in t for t in listed)  # the secret is never shown again
    assert client.delete(f"/api/tokens/{made.json()['id']}", headers=rep).status_code == 204
    res = client.get("/api/visits", headers=mine)
    assert (res.status_code, error_code(res)) == (401, "invalid_token")


def test_only_a_hash_of_a_token_is_stored(site: dict[str, Any]) -> None:
    engine = make_engine(site["settings"].database_url)
    with make_sessionmaker(engine)() as db:
        stored = [t.secret_sha256 for t in db.query(ApiToken)]
        hashes = [u.password_hash or "" for u in db.query(User)]
    engine.dispose()
    secrets = list(site["tokens"].values())
    assert stored and not any(s in h for s in secrets for h in stored)
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_a_rep_cannot_make_a_token_for_someone_else(site: dict[str, Any]) -> None:
    res = call(site, "GET", "/api/users", Role.ADMIN)
    other = next(u["id"] for u in res.json() if u["username"] == "admin-user")
    rep = {"Authorization": f"Bearer {site['tokens'][Role.REP]}"}
    res = site["client"].post("/api/tokens", json={"user_id": other}, headers=rep)
    assert (res.status_code, error_code(res)) == (403, "forbidden")


def test_the_page_signs_in_with_a_cookie_and_needs_the_csrf_token_for_changes(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, "embedded")
    migrate(settings.database_url)
    make_user(settings, "lin", Role.REP, password=PASSWORD, display_name="林")
    with TestClient(create_app(settings)) as client:
        wrong = client.post("/api/auth/login", json={"username": "lin", "password": "nope"})
        assert (wrong.status_code, error_code(wrong)) == (401, "bad_credentials")
        nobody = client.post("/api/auth/login", json={"username": "who", "password": "x" * 12})
        assert nobody.json() == wrong.json()  # the same answer: no hint which part was wrong
        res = client.post("/api/auth/login", json={"username": "LIN ", "password": PASSWORD})
        assert res.status_code == 200
        cookie = res.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
        csrf = res.json()["csrf_token"]
        assert client.get("/api/auth/me").json()["user"]["display_name"] == "林"
        assert client.get("/api/auth/me").json()["csrf_token"] == csrf
        files = {"file": ("a.txt", b"Customer: hello there\n", "text/plain")}
        refused = client.post("/api/visits", files=files)
        assert (refused.status_code, error_code(refused)) == (403, "csrf_failed")
        ok = client.post("/api/visits", files=files, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 202 and ok.json()["rep"] == "林"  # a rep's own name by default
        assert client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        res = client.get("/api/visits")
        assert (res.status_code, error_code(res)) == (401, "unauthorized")


def test_behind_tls_the_session_cookie_is_secure(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "embedded", secure_cookies=True)
    migrate(settings.database_url)
    make_user(settings, "lin", Role.REP, password=PASSWORD)
    with TestClient(create_app(settings)) as client:
        res = client.post("/api/auth/login", json={"username": "lin", "password": PASSWORD})
        assert "Secure" in res.headers["set-cookie"]


def test_admins_manage_users_and_roles(site: dict[str, Any]) -> None:
    client: TestClient = site["client"]
    admin = {"Authorization": f"Bearer {site['tokens'][Role.ADMIN]}"}
    body = {"username": "mei", "role": "trainer", "password": PASSWORD, "teams": ["north"]}
    made = client.post("/api/users", json=body, headers=admin)
    assert made.status_code == 201 and made.json()["role"] == "trainer"
    again = client.post("/api/users", json=body, headers=admin)
    assert (again.status_code, error_code(again)) == (409, "user_exists")
    weak = client.post(
        "/api/users", json={**body, "username": "mei2", "password": "short"}, headers=admin
    )
    assert (weak.status_code, error_code(weak)) == (422, "weak_password")
    bad = client.post("/api/users", json={**body, "username": "Mei Ling!"}, headers=admin)
    assert (bad.status_code, error_code(bad)) == (422, "invalid_username")
    bad_role = client.post(
        "/api/users", json={**body, "username": "x1", "role": "boss"}, headers=admin
    )
    assert (bad_role.status_code, error_code(bad_role)) == (422, "invalid_request")
    user_id = made.json()["id"]
    changed = client.patch(f"/api/users/{user_id}", json={"disabled": True}, headers=admin)
    assert changed.json()["disabled"] is True
    res = client.post("/api/auth/login", json={"username": "mei", "password": PASSWORD})
    assert (res.status_code, error_code(res)) == (401, "bad_credentials")
    me = client.get("/api/auth/me", headers=admin).json()["user"]["id"]
    res = client.patch(f"/api/users/{me}", json={"role": "rep"}, headers=admin)
    assert (res.status_code, error_code(res)) == (422, "last_admin")
    missing = client.patch("/api/users/99999", json={"disabled": True}, headers=admin)
    assert (missing.status_code, error_code(missing)) == (404, "user_not_found")


def test_the_audit_log_records_and_exports_and_cannot_be_edited(site: dict[str, Any]) -> None:
    client: TestClient = site["client"]
    rep = {"Authorization": f"Bearer {site['tokens'][Role.REP]}"}
    admin = {"Authorization": f"Bearer {site['tokens'][Role.ADMIN]}"}
    files = {"file": ("audit.txt", b"Customer: the invoices are wrong\n", "text/plain")}
    visit_id = client.post("/api/visits", files=files, headers=rep).json()["id"]
    client.get(f"/api/visits/{visit_id}/transcript", headers=rep)
    client.get(f"/api/visits/{visit_id}/transcript?format=srt", headers=rep)
    assert client.delete(f"/api/visits/{visit_id}", headers=rep).status_code == 204
    events = client.get(f"/api/audit?object_id={visit_id}", headers=admin).json()
    assert [(e["username"], e["action"]) for e in reversed(events)] == [
        ("rep-user", "upload"),
        ("rep-user", "view"),
        ("rep-user", "export"),
        ("rep-user", "delete"),
    ]
    exported = client.get(f"/api/audit?object_id={visit_id}&format=csv", headers=admin)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert exported.headers["content-type"].startswith("text/csv") and len(rows) == 4
    for method in ("PUT", "PATCH", "DELETE"):
        assert client.request(method, "/api/audit", headers=admin).status_code == 405
    res = client.get("/api/audit", headers=rep)
    assert (res.status_code, error_code(res)) == (403, "forbidden")
    res = client.get("/api/audit?action=nothing", headers=admin)
    assert (res.status_code, error_code(res)) == (422, "invalid_request")


def test_failed_sign_ins_are_audited(site: dict[str, Any]) -> None:
    client: TestClient = site["client"]
    client.post("/api/auth/login", json={"username": "rep-user", "password": "guess guess"})
    admin = {"Authorization": f"Bearer {site['tokens'][Role.ADMIN]}"}
    events = client.get("/api/audit?action=sign_in_failed", headers=admin).json()
    assert events[0]["username"] == "rep-user" and events[0]["user_id"] is None


def test_the_page_and_api_send_security_headers_and_cors_stays_closed(
    site: dict[str, Any],
) -> None:
    client: TestClient = site["client"]
    for path in ("/", "/api/health"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
    preflight = client.options(
        "/api/visits",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_first_start_makes_one_admin_and_says_how_to_sign_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path, "embedded")
    migrate(settings.database_url)
    ensure_admin(settings)
    said = capsys.readouterr().out
    password = re.search(r"with password (\S+)", said)
    assert "'admin'" in said and password
    ensure_admin(settings)  # a second start makes nobody and prints nothing
    assert capsys.readouterr().out == ""
    with TestClient(create_app(settings)) as client:
        res = client.post(
            "/api/auth/login", json={"username": "admin", "password": password.group(1)}
        )
        assert res.json()["user"]["role"] == "admin"


def test_uploads_and_searches_are_limited_per_user(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "embedded", uploads_per_hour=2, searches_per_minute=1)
    migrate(settings.database_url)
    lin = {"Authorization": f"Bearer {make_user(settings, 'lin', Role.REP)}"}
    mei = {"Authorization": f"Bearer {make_user(settings, 'mei', Role.REP)}"}
    with TestClient(create_app(settings)) as client:
        for n in range(2):
            files = {"file": (f"{n}.txt", f"Customer: visit {n}\n".encode(), "text/plain")}
            assert client.post("/api/visits", files=files, headers=lin).status_code == 202
        files = {"file": ("3.txt", b"Customer: one too many\n", "text/plain")}
        res = client.post("/api/visits", files=files, headers=lin)
        assert (res.status_code, error_code(res)) == (429, "rate_limited")
        assert "per 60 minute" in res.json()["error"]["message"]
        assert client.post("/api/visits", files=files, headers=mei).status_code == 202
        client.get("/api/search", params={"q": "late"}, headers=lin)
        res = client.get("/api/search", params={"q": "late"}, headers=lin)
        assert (res.status_code, error_code(res)) == (429, "rate_limited")
