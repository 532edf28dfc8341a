"""A visit's metadata as people type it (form fields, JSON bodies), checked the same way at
upload and at edit (invalid_field)."""

from __future__ import annotations

import re
from datetime import date

from knowledge.errors import InvalidInput
from nlp.vocabulary import Outcome, Segment

SEGMENTS = tuple(s.value for s in Segment)
OUTCOMES = tuple(o.value for o in Outcome)


def names(value: str | None) -> list[str]:
    """People's names from a form field: comma, 、 or ; separated."""
    return [n.strip() for n in re.split(r"[,，;；、]", value or "") if n.strip()][:50]


def optional(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def parse_date(value: str | None) -> date | None:
    value = optional(value)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise InvalidInput(
            f"visit_date '{value}' is not a date like 2026-03-10.", code="invalid_field"
        ) from e


def choice(name: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    value = optional(value)
    if value is not None and value not in allowed:
        raise InvalidInput(
            f"{name} '{value}' is not one of: {', '.join(allowed)}.", code="invalid_field"
        )
    return value


def speaker_count(value: str | None) -> int | None:
    """The number of speakers a person gave, 1 to 10; None when not given."""
    if optional(value) is None:
        return None
    given = str(value).strip()
    if not (given.isascii() and given.isdecimal()) or not 1 <= int(given) <= 10:
        raise InvalidInput("speakers must be a whole number from 1 to 10.", code="invalid_field")
    return int(given)
