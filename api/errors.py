"""The only place that knows HTTP status codes: every error leaves as {"error": {code, message}};
under /v1 (the OpenAI-compatible routes) as OpenAI's {"error": {message, type, param, code}}."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import ErrorOut
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
OPENAI_PREFIX = "/v1/"
OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}
PARAM_OF_CODE = {  # the form field an OpenAI client is told to fix
    "missing_file": "file",
    "empty_file": "file",
    "not_audio": "file",
    "corrupt_audio": "file",
    "too_long": "file",
    "file_too_large": "file",
    "unsupported_response_format": "response_format",
    "invalid_timestamp_granularities": "timestamp_granularities[]",
    "invalid_language": "language",
}


class ErrorAnswer(BaseModel):
    error: ErrorOut  # code: stable, for programs; message: a sentence a person understands


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str


class OpenAIErrorOut(BaseModel):
    error: OpenAIErrorDetail


def documented(model: type[BaseModel], statuses: tuple[int, ...]) -> dict[int | str, Any]:
    """The error answers a router may give, for its OpenAPI description."""
    return {s: {"model": model, "description": HTTPStatus(s).phrase} for s in statuses}


API_ERRORS = documented(ErrorAnswer, (400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 503))
OPENAI_ERRORS = documented(OpenAIErrorOut, (400, 401, 403, 404, 405, 413, 429, 503))


def error_response(
    status: int, code: str, message: str, path: str = "", param: str | None = None
) -> JSONResponse:
    if path.startswith(OPENAI_PREFIX):
        status = 400 if status in (415, 422) else status  # OpenAI answers bad input with 400
        fallback = "server_error" if status >= 500 else "invalid_request_error"
        kind = OPENAI_TYPES.get(status, fallback)
        body = {
            "message": message,
            "type": kind,
            "param": param or PARAM_OF_CODE.get(code),
            "code": code,
        }
        return JSONResponse({"error": body}, status_code=status)
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
    async def _visitlens(request: Request, exc: VisitlensError) -> JSONResponse:
        return error_response(_status_of(exc), exc.code, exc.message, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0].get("loc", ()) if exc.errors() else ()
        fields = [str(p) for p in first if p not in ("body", "query", "path")]
        return error_response(
            422, "invalid_request", _describe(exc), request.url.path, fields[0] if fields else None
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "The request failed."
        if exc.status_code == 404 and message == "Not Found":
            message = "There is nothing at this address."
        response = error_response(exc.status_code, code, message, request.url.path)
        response.headers.update(exc.headers or {})  # a 405 names the methods allowed (Allow)
        return response

    @app.exception_handler(RecursionError)
    async def _deep(request: Request, exc: RecursionError) -> JSONResponse:
        return error_response(
            422, "invalid_request", "The request nests too deeply to read.", request.url.path
        )

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
        return error_response(
            500, "internal", "Something went wrong on the server; it is logged.", request.url.path
        )
