"""Role accuracy of a transcript: speech time whose segment names the right speaker role."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nlp.types import Segment


def _field(item: Segment | Mapping[str, object], name: str) -> object:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name)


def _seconds(item: Segment | Mapping[str, object], name: str) -> float:
    value = _field(item, name)
    if not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds.")
    return float(value)


def role_accuracy(
    truth_turns: Sequence[Mapping[str, object]], segments: Sequence[Segment | Mapping[str, object]]
) -> float:
    """Share of truth speech time whose overlapping segment has the right role (as score.py)."""
    total = right = 0.0
    for turn in truth_turns:
        start, end = _seconds(turn, "start"), _seconds(turn, "end")
        total += end - start
        for seg in segments:
            overlap = min(end, _seconds(seg, "end")) - max(start, _seconds(seg, "start"))
            if overlap > 0 and _field(seg, "role") == turn["speaker"]:
                right += overlap
    return right / total if total else 0.0
