"""Written coaching tips: the two or three failed scorecard items that cost a visit the most
points, each as a tip in zh and en (prompts/coaching_tips.yaml) with the rep's own moment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Any, get_args

import yaml

from nlp.coaching import ItemScore, TimeSpan
from nlp.scorecard import (
    DEFAULT_SCORECARD_PATH,
    METRICS,
    Direction,
    Metric,
    Scorecard,
    direction_of,
)

DEFAULT_TIPS_PATH = DEFAULT_SCORECARD_PATH.with_name("coaching_tips.yaml")
MAX_TIPS = 3
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class TipText:
    """What to tell a rep who missed one metric one way, in each language."""

    text: dict[str, str]  # language -> the tip; $value and $target are filled in
    moment: dict[str, str]  # language -> what the linked moment of the visit shows


@dataclass(frozen=True)
class TipTexts:
    by_miss: dict[tuple[Metric, Direction], TipText]
    percent: frozenset[Metric]  # metrics shown as a percentage (shares 0..1)


@dataclass(frozen=True)
class Tip:
    """A written tip from a failed scorecard item, with the rep's own moment that shows it."""

    item: str
    label: str
    metric: Metric
    direction: Direction
    value: float
    target: float
    points_lost: float  # weight x (1 - score): the order of the tips
    text: dict[str, str]  # language -> the tip
    moment: TimeSpan | None  # where in this visit the item failed
    moment_note: dict[str, str]  # language -> what that moment shows


def _texts(node: object, where: str) -> dict[str, str]:
    if not isinstance(node, dict) or not all(
        isinstance(node.get(lang), str) and node[lang].strip() for lang in LANGUAGES
    ):
        raise ValueError(f"{where} needs text in {' and '.join(LANGUAGES)}.")
    return {lang: " ".join(node[lang].split()) for lang in LANGUAGES}


def parse_tips(data: object) -> TipTexts:
    """Validate a parsed tips mapping ({tips: {metric: {percent?, low?, high?}}})."""
    tips = data.get("tips") if isinstance(data, dict) else None
    if not isinstance(tips, dict) or not tips:
        raise ValueError("The tips file needs a non-empty 'tips' mapping of metrics.")
    by_miss: dict[tuple[Metric, Direction], TipText] = {}
    percent: set[Metric] = set()
    for metric, node in tips.items():
        if metric not in METRICS or not isinstance(node, dict):
            raise ValueError(f"Tips for {metric!r}: use a metric of {METRICS}, as a mapping.")
        if node.get("percent"):
            percent.add(metric)
        for direction in get_args(Direction):
            if direction in node:
                where = f"Tip {metric}.{direction}"
                miss = node[direction] if isinstance(node[direction], dict) else {}
                by_miss[(metric, direction)] = TipText(
                    text=_texts(miss, where), moment=_texts(miss.get("moment"), f"{where}.moment")
                )
    return TipTexts(by_miss, frozenset(percent))


@cache
def load_tips(path: Path = DEFAULT_TIPS_PATH) -> TipTexts:
    """Read and validate the coaching tips file (prompts/coaching_tips.yaml by default)."""
    return parse_tips(yaml.safe_load(path.read_text(encoding="utf-8")))


def _shown(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f}%"
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}".removesuffix(".0")


def read_item_scores(document: Mapping[str, Any]) -> list[ItemScore]:
    """The scorecard items of a stored coaching document (asdict of a CoachingReport, its
    scorecard as {"total", "items"}); older documents lack moments."""
    card = document.get("scorecard")
    raw = card.get("items") if isinstance(card, Mapping) else None

    def span(x: Any) -> TimeSpan | None:
        if not isinstance(x, Mapping):
            return None
        return TimeSpan(float(x["start"]), float(x["end"]), str(x.get("note", "")))

    out = []
    for x in raw if isinstance(raw, list) else []:
        if not isinstance(x, Mapping) or x.get("metric") not in METRICS:
            continue
        evidence = [s for s in map(span, x.get("evidence") or []) if s is not None]
        value = x.get("value")
        out.append(
            ItemScore(
                id=str(x.get("id") or x["metric"]),
                label=str(x.get("label") or x["metric"]),
                metric=x["metric"],
                value=None if value is None else float(value),
                passed=x.get("passed"),
                score=float(x.get("score") or 0.0),
                weight=float(x.get("weight") or 0.0),
                evidence=evidence,
                moment=span(x.get("moment")),
            )
        )
    return out


def coaching_tips(
    items: Sequence[ItemScore], scorecard: Scorecard, texts: TipTexts, limit: int = MAX_TIPS
) -> list[Tip]:
    """Up to limit tips from the failed items that cost the most points (weight x (1 - score)),
    each item measured against its target in the scorecard and with a tip for the way it was
    missed; the moment is the item's own, else its first evidence. None when nothing failed."""
    targets = {x.id: x for x in scorecard.items}
    tips = []
    for item in items:
        card_item = targets.get(item.id)
        if item.passed is not False or item.value is None or card_item is None:
            continue
        direction = direction_of(card_item, item.value)
        tip = texts.by_miss.get((item.metric, direction)) if direction else None
        if direction is None or tip is None:
            continue
        target = card_item.min if direction == "low" else card_item.max
        if target is None:  # never: direction_of found the value past this limit
            continue
        percent = item.metric in texts.percent
        values = {"value": _shown(item.value, percent), "target": _shown(target, percent)}
        tips.append(
            Tip(
                item=item.id,
                label=item.label,
                metric=item.metric,
                direction=direction,
                value=item.value,
                target=target,
                points_lost=round(item.weight * (1.0 - item.score), 3),
                text={k: Template(v).safe_substitute(values) for k, v in tip.text.items()},
                moment=item.moment or (item.evidence[0] if item.evidence else None),
                moment_note=tip.moment,
            )
        )
    tips.sort(key=lambda t: (-t.points_lost, t.item))
    return tips[:limit]
