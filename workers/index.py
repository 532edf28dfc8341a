"""The index step."""

from __future__ import annotations

from workers.runner import StepContext


def work(ctx: StepContext) -> None:
    return None
