"""Reporting periods: ISO weeks and calendar months, their first days and their names."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

Period = Literal["week", "month"]


def period_start(day: date, period: Period) -> date:
    """The first day of the ISO week (Monday) or calendar month holding `day`."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def previous_start(start: date, period: Period) -> date:
    if period == "week":
        return start - timedelta(days=7)
    return (start - timedelta(days=1)).replace(day=1)


def period_key(day: date, period: Period) -> str:
    """'2026-W07' for weeks (ISO), '2026-02' for months."""
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"
