"""The long-recording bench judges each stretch of a joined recording against its own truth."""

from __future__ import annotations

from evals.longbench import Part, errors


def test_each_segment_is_judged_against_the_part_its_middle_lies_in() -> None:
    parts = [
        Part(0.0, 10.0, "en", "send the offer by friday"),
        Part(10.0, 20.0, "zh", "我们下周见"),
        Part(20.0, 30.0, "en", "thanks a lot"),
    ]
    segments = [
        {"start": 1.0, "end": 4.0, "text": "Send the offer"},
        {"start": 8.0, "end": 11.0, "text": "by Friday."},  # middle at 9.5: the first part
        {"start": 12.0, "end": 14.0, "text": "我们下周见"},
        {"start": 21.0, "end": 23.0, "text": "thanks"},
    ]
    got = errors(parts, segments)
    assert got == {"en": 0.25, "zh": 0.0}  # "a lot" missed: two words of eight
