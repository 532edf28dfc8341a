"""Links that play a visit's recording from a second, signed for the user they were made for.

An <audio> tag, a new browser tab or a link pasted into a chat cannot send the Authorization
header, so each audio link carries the user it was made for, an expiry and an HMAC of those and
the visit id, keyed by the server's secret: it opens that one recording and nothing else, as
that user (who must still be active), until it expires or the secret changes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from knowledge.errors import Unauthorized

LINK_DAYS = 30  # a shared link keeps working for 30 to 31 days
_DAY_S = 86_400
_AUDIO_PATH = re.compile(r"^/api/visits/([^/]+)/audio$")


@dataclass(frozen=True)
class Signer:
    """Signs audio links for one user."""

    secret: str
    user_id: int


def _signature(secret: str, user_id: int, visit_id: str, expires: int) -> str:
    message = f"{user_id}:{visit_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def audio_link(
    signer: Signer | None, visit_id: str, start: float | None = None, *, now: float | None = None
) -> str:
    """Path of the visit's recording, at `start` seconds (a media fragment) when given."""
    path = f"/api/visits/{visit_id}/audio"
    if signer is not None:
        # whole days, so that a visit's links stay the same all day (caches, bookmarks)
        expires = (int(time.time() if now is None else now) // _DAY_S + LINK_DAYS + 1) * _DAY_S
        sig = _signature(signer.secret, signer.user_id, visit_id, expires)
        path += "?" + urlencode({"u": signer.user_id, "expires": expires, "sig": sig})
    if start is None:
        return path
    return f"{path}#t={start:.1f}".removesuffix(".0")


def _whole(text: str) -> bool:
    """A whole number in ASCII digits ("²".isdigit() is true, int("²") fails)."""
    return text.isascii() and text.isdecimal() and len(text) < 20


def signed_audio_user(
    secret: str, path: str, query: Mapping[str, str], *, now: float | None = None
) -> int | None:
    """The user a signed request for a recording was made for; None when the request is not
    one (another path, or no signature); Unauthorized when it is forged or expired."""
    match = _AUDIO_PATH.match(path)
    user, expires, sig = query.get("u", ""), query.get("expires", ""), query.get("sig", "")
    if match is None or not sig:
        return None
    expired = Unauthorized(
        "This audio link has expired or is not valid: open the visit again for a fresh one.",
        code="link_expired",
    )
    if not (_whole(user) and _whole(expires)):
        raise expired
    if int(expires) < (time.time() if now is None else now):
        raise expired
    if not hmac.compare_digest(sig, _signature(secret, int(user), match.group(1), int(expires))):
        raise expired
    return int(user)
