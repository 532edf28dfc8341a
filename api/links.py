"""Links that play a visit's recording from a second; signed when the server needs a token.

An <audio> tag, a new browser tab or a link pasted into a chat cannot send the Authorization
header, so with an API token set each audio link carries an expiry and an HMAC of the visit id
and that expiry, keyed by the token: it opens that one recording and nothing else, until it
expires or the token changes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from urllib.parse import urlencode

LINK_DAYS = 30  # a shared link keeps working for 30 to 31 days
_DAY_S = 86_400
_AUDIO_PATH = re.compile(r"^/api/visits/([^/]+)/audio$")


def _signature(token: str, visit_id: str, expires: int) -> str:
    message = f"{visit_id}:{expires}".encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()[:32]


def audio_link(
    token: str | None, visit_id: str, start: float | None = None, *, now: float | None = None
) -> str:
    """Path of the visit's recording, at `start` seconds (a media fragment) when given."""
    path = f"/api/visits/{visit_id}/audio"
    if token:
        # whole days, so that a visit's links stay the same all day (caches, bookmarks)
        expires = (int(time.time() if now is None else now) // _DAY_S + LINK_DAYS + 1) * _DAY_S
        path += "?" + urlencode({"expires": expires, "sig": _signature(token, visit_id, expires)})
    if start is None:
        return path
    return f"{path}#t={start:.1f}".removesuffix(".0")


def signed_audio_request(
    token: str, path: str, query: Mapping[str, str], *, now: float | None = None
) -> bool | None:
    """Whether a signed request for a recording is valid and unexpired; None when the request
    is not one (another path, or no signature)."""
    match = _AUDIO_PATH.match(path)
    expires, sig = query.get("expires", ""), query.get("sig", "")
    if match is None or not sig:
        return None
    if not expires.isdigit() or int(expires) < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(sig, _signature(token, match.group(1), int(expires)))
