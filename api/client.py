"""A small HTTP client for a running visitlens server, used by ingest, eval and bench."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


class ServerError(Exception):
    """The server answered with an error or could not be reached; the message says which."""


class Client:
    def __init__(self, url: str, token: str | None = None, timeout: float = 600) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            res = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            raise ServerError(f"no visitlens server answered at {self.http.base_url}: {e}") from e
        body = res.json() if res.content and "json" in res.headers.get("content-type", "") else None
        if res.status_code >= 400:
            err = (body or {}).get("error", {}) if isinstance(body, dict) else {}
            raise ServerError(
                f"{res.status_code} {err.get('code', '')}: {err.get('message', res.text)}"
            )
        return body

    def upload(self, path: Path, **fields: str) -> dict[str, Any]:
        with path.open("rb") as f:
            data = {k: v for k, v in fields.items() if v}
            visit: dict[str, Any] = self.call(
                "POST", "/api/visits", files={"file": (path.name, f)}, data=data
            )
            return visit

    def wait(
        self,
        visit_id: str,
        *,
        timeout: float = 3600,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            visit: dict[str, Any] = self.call("GET", f"/api/visits/{visit_id}")
            if on_update:
                on_update(visit)
            if visit["status"] in ("done", "failed") or time.monotonic() > deadline:
                return visit
            time.sleep(0.5)
