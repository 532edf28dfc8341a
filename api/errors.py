"""The only place that knows HTTP status codes: every error leaves as {"error": {code, message}}."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from knowledge.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    UnsupportedMedia,
    VisitlensError,
)

log = structlog.get_logger()

STATUS: dict[type[VisitlensError], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    TooLarge: 413,
    UnsupportedMedia: 415,
    Unavailable: 503,
    Unauthorized: 401,
    Forbidden: 403,
    TooManyRequests: 429,
}
HTTP_CODES = {
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "file_too_large",
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _status_of(exc: VisitlensError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
    return "The request is not valid. " + "; ".join(parts) + "."


def install(app: FastAPI) -> None:
    @app.exception_handler(VisitlensError)
    async def _visitlens(_: Request, exc: VisitlensError) -> JSONResponse:
        return error_response(_status_of(exc), exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _describe(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "The request failed."
        if exc.status_code == 404 and message == "Not Found":
            message = "There is nothing at this address."
        return error_response(exc.status_code, code, message)

    @app.exception_handler(RecursionError)
    async def _deep(_: Request, exc: RecursionError) -> JSONResponse:
        return error_response(422, "invalid_request", "The request nests too deeply to read.")

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # the edge checks lengths, numbers and characters; this catches what slips past them
        log.warning("request.unstorable", path=request.url.path, error=type(exc.orig).__name__)
        return error_response(
            422, "invalid_value", "A value in the request cannot be stored (too long or invalid)."
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request.crashed", path=request.url.path)
        return error_response(500, "internal", "Something went wrong on the server; it is logged.")
