"""The analyse step."""

from __future__ import annotations

from workers.runner import StepContext


def work(ctx: StepContext) -> None:
    return None
