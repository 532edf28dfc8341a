"""CSV downloads that spreadsheet programs open safely and read as UTF-8."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import Response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """The value as text; text that a spreadsheet would run as a formula gets a leading '
    (numbers stay numbers, negative ones too)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return str(value)


def also_as(*media_types: str) -> dict[int | str, Any]:
    """For a route's OpenAPI description: its 200 answer may also come in these types."""
    return {200: {"content": {"application/json": {}, **{m: {} for m in media_types}}}}


CSV_TOO = also_as("text/csv")  # routes with ?format=csv


def csv_response(
    header: Sequence[str], rows: Iterable[Sequence[object]], filename: str
) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return Response(
        "\ufeff" + buffer.getvalue(),  # a BOM: spreadsheets then read Chinese text as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
