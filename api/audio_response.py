"""A stored recording as an HTTP response, whole or one byte range (seeking in a player): sent
as the file when stored in plain, decrypted chunk by chunk when sealed."""

from __future__ import annotations

import re
from itertools import chain
from pathlib import Path
from urllib.parse import quote

from fastapi.responses import FileResponse, Response, StreamingResponse

from api.errors import error_response
from knowledge import audio_store
from knowledge.audio_crypto import Keyring

_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.ASCII | re.IGNORECASE)


class RangeNotSatisfiable(Exception):
    pass


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """[start, end) asked for by a Range header of one `bytes=` range; None for the whole
    recording when the header holds several ranges or is malformed (RFC 9110 lets a server
    ignore it); raises RangeNotSatisfiable when the range starts past the end."""
    match = _RANGE.fullmatch(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)  # bytes=-n: the last n bytes
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    end = min(int(last) + 1, size) if last else size
    return start, end


def _disposition(filename: str) -> str:
    """As Starlette's FileResponse writes it, so plain and sealed recordings download alike."""
    quoted = quote(filename)
    if quoted != filename:
        return f"attachment; filename*=utf-8''{quoted}"
    return f'attachment; filename="{filename}"'


def audio_response(
    path: Path,
    keys: Keyring,
    *,
    range_header: str | None,
    if_range: str | None,
    filename: str | None,
    media_type: str,
) -> Response:
    sealed = audio_store.sealed_header(path)
    if sealed is None:
        return FileResponse(path, filename=filename, media_type=media_type)
    size = sealed.plain_bytes
    etag = f'"{sealed.key_id.hex()}{sealed.nonce_prefix.hex()}"'  # new at each sealing
    headers = {"accept-ranges": "bytes", "etag": etag}
    if filename:
        headers["content-disposition"] = _disposition(filename)
    span = None
    if range_header is not None and if_range in (None, etag):
        try:
            span = byte_range(range_header, size)
        except RangeNotSatisfiable:
            response = error_response(
                416,
                "range_not_satisfiable",
                f"The range asked for starts past the end of the recording ({size} bytes).",
            )
            response.headers["content-range"] = f"bytes */{size}"
            return response
    start, end = span or (0, size)
    chunks = audio_store.iter_range(path, keys, start=start, end=end)
    first = next(chunks, b"")  # an unknown key or damage fails here, as a clear error response
    headers["content-length"] = str(end - start)
    if span is not None:
        headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
    return StreamingResponse(
        chain([first], chunks),
        status_code=206 if span is not None else 200,
        headers=headers,
        media_type=media_type,
    )
