"""Action items and date phrases resolved against the visit date."""

from __future__ import annotations

from datetime import date

import pytest

from nlp.actions import resolve_due

TUESDAY = date(2026, 3, 10)
THURSDAY = date(2026, 3, 5)


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("下周五之前", date(2026, 3, 20)),
        ("这周五之前", date(2026, 3, 13)),
        ("周三", date(2026, 3, 11)),
        ("下周三", date(2026, 3, 18)),
        ("明天", date(2026, 3, 11)),
        ("后天", date(2026, 3, 12)),
        ("月底", date(2026, 3, 31)),
        ("下个月底", date(2026, 4, 30)),
        ("三天内", date(2026, 3, 13)),
        ("两周内", date(2026, 3, 24)),
        ("五个工作日内", date(2026, 3, 17)),
        ("3月15日", date(2026, 3, 15)),
        ("四月中旬前", date(2026, 4, 15)),
        ("20号之前", date(2026, 3, 20)),
        ("年底", date(2026, 12, 31)),
        ("今天", TUESDAY),
    ],
)
def test_chinese_date_phrases_resolve_against_the_visit_date(phrase: str, expected: date) -> None:
    assert resolve_due(phrase, TUESDAY) == expected


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("by Friday", date(2026, 3, 6)),
        ("on Tuesday", date(2026, 3, 10)),
        ("next Tuesday", date(2026, 3, 10)),
        ("next Monday", date(2026, 3, 9)),
        ("by end of month", date(2026, 3, 31)),
        ("by the end of the month", date(2026, 3, 31)),
        ("within two weeks", date(2026, 3, 19)),
        ("in 3 days", date(2026, 3, 8)),
        ("within 5 business days", date(2026, 3, 12)),
        ("on March 3", date(2026, 3, 3)),
        ("by April 2nd", date(2026, 4, 2)),
        ("tomorrow", date(2026, 3, 6)),
        ("today", THURSDAY),
        ("by mid-April", date(2026, 4, 15)),
        ("next week", date(2026, 3, 13)),
    ],
)
def test_english_date_phrases_resolve_against_the_visit_date(phrase: str, expected: date) -> None:
    assert resolve_due(phrase, THURSDAY) == expected


def test_text_without_a_date_phrase_has_no_due_date() -> None:
    assert resolve_due("我们再商量一下", TUESDAY) is None
    assert resolve_due("We'll think about it", THURSDAY) is None


def test_a_dated_date_in_january_said_in_december_means_next_year() -> None:
    assert resolve_due("1月5日", date(2026, 12, 20)) == date(2027, 1, 5)


@pytest.mark.parametrize(
    "text",
    ["收到单据后两周内给出评估结果", "We'll refund it within ten days of receiving the parts"],
)
def test_a_span_counted_from_an_event_is_no_due_date(text: str) -> None:
    assert resolve_due(text, date(2026, 3, 10)) is None
