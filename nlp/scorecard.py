"""The scorecard a visit is graded on: which metrics count, their targets and weights
(prompts/scorecard.yaml, edited by trainers), and which way a value misses a target."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, get_args

import yaml

Metric = Literal[
    "talk_ratio",
    "question_rate_per_10min",
    "open_question_share",
    "deep_question_share",
    "longest_rep_monologue_s",
    "longest_customer_story_s",
    "interactivity_per_min",
    "patience_s",
]
METRICS: tuple[Metric, ...] = get_args(Metric)
Direction = Literal["low", "high"]  # the value fell under the item's min, or went over its max
DEFAULT_SCORECARD_PATH = Path(__file__).resolve().parent.parent / "prompts" / "scorecard.yaml"


@dataclass(frozen=True)
class ScorecardItem:
    """A scorecard line from prompts/scorecard.yaml: metric, target range, weight."""

    id: str
    label: str
    metric: Metric
    weight: float
    min: float | None = None
    max: float | None = None
    tolerance: float = 0.5


@dataclass(frozen=True)
class Scorecard:
    """The items a visit is scored on."""

    items: tuple[ScorecardItem, ...]


def _number(raw: object, where: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"{where} must be a number.")
    return float(raw)


def parse_scorecard(data: object) -> Scorecard:
    """Validate a parsed scorecard mapping ({items: [...]}) into a Scorecard."""
    raw_items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(raw_items, list) or not raw_items:
        raise ValueError("The scorecard needs a non-empty 'items' list.")
    items = []
    for i, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            raise ValueError(f"Scorecard item {i} must be a mapping.")
        metric = raw.get("metric")
        if metric not in METRICS:
            raise ValueError(
                f"Scorecard item {i} has unknown metric {metric!r}; use one of {METRICS}."
            )
        low, high = (
            _number(raw.get("min"), f"item {i} min"),
            _number(raw.get("max"), f"item {i} max"),
        )
        if low is None and high is None:
            raise ValueError(f"Scorecard item {i} needs 'min' or 'max'.")
        weight = _number(raw.get("weight", 1), f"item {i} weight")
        tolerance = _number(raw.get("tolerance", 0.5), f"item {i} tolerance")
        if weight is None or weight < 0 or tolerance is None or tolerance <= 0:
            raise ValueError(f"Scorecard item {i} needs weight >= 0 and tolerance > 0.")
        items.append(
            ScorecardItem(
                id=str(raw.get("id") or metric),
                label=str(raw.get("label") or metric),
                metric=metric,
                weight=weight,
                min=low,
                max=high,
                tolerance=tolerance,
            )
        )
    return Scorecard(items=tuple(items))


@cache
def load_scorecard(path: Path = DEFAULT_SCORECARD_PATH) -> Scorecard:
    """Read and validate a scorecard YAML file (prompts/scorecard.yaml by default)."""
    return parse_scorecard(yaml.safe_load(path.read_text(encoding="utf-8")))


def direction_of(item: ScorecardItem, value: float | None) -> Direction | None:
    """Which way the value misses the item's target; None inside it (or without a value)."""
    if value is None:
        return None
    if item.min is not None and value < item.min:
        return "low"
    if item.max is not None and value > item.max:
        return "high"
    return None
