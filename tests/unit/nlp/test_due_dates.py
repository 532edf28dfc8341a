"""Due-date phrases resolved against the visit date."""

from __future__ import annotations

from datetime import date

import pytest

from nlp.due_dates import find_dates, resolve_due

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
        ("on March 13", date(2026, 3, 13)),
        ("by April 2nd", date(2026, 4, 2)),
        ("tomorrow", date(2026, 3, 6)),
        ("today", THURSDAY),
        ("by mid-April", date(2026, 4, 15)),
        ("by next week", date(2026, 3, 13)),
        ("by the end of next week", date(2026, 3, 13)),
    ],
)
def test_english_date_phrases_resolve_against_the_visit_date(phrase: str, expected: date) -> None:
    assert resolve_due(phrase, THURSDAY) == expected


def test_a_day_before_the_visit_dates_no_promise() -> None:
    # "the June 14 outage" names an event; the deadline is the day still to come
    assert resolve_due("on March 3", THURSDAY) is None
    assert resolve_due("上周五已经发了", THURSDAY) is None
    assert resolve_due("last Friday we shipped it", THURSDAY) is None
    assert resolve_due("the report on the March 3 outage by Monday", THURSDAY) == date(2026, 3, 9)


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


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("get back to you by Friday the 13th", date(2026, 3, 13)),
        ("we deliver on Tuesday, March 24th", date(2026, 3, 24)),
        ("the report goes out on the 9th", date(2026, 3, 9)),
        ("the survey is done before the 20th", date(2026, 3, 20)),
    ],
)
def test_a_weekday_with_a_day_of_month_means_that_day(phrase: str, expected: date) -> None:
    assert resolve_due(phrase, THURSDAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I'll set up a call with your IT next week",
        "We'll plan the rollout for early April",
        "我下周带工程师过来看看",
        "新版本下个月上线",
        "培训安排在3月下旬",
    ],
)
def test_a_vague_period_says_when_not_by_when(text: str) -> None:
    assert resolve_due(text, TUESDAY) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("下周之前把方案发您", date(2026, 3, 20)),
        ("4月中旬前交货", date(2026, 4, 15)),
        ("by early April", date(2026, 4, 10)),
        ("下个月底", date(2026, 4, 30)),
    ],
)
def test_a_vague_period_with_a_deadline_word_is_a_due_date(text: str, expected: date) -> None:
    assert resolve_due(text, TUESDAY) == expected


@pytest.mark.parametrize("text", ["我们派工程师做一天的实操", "考证五天就能拿证"])
def test_a_bare_length_of_days_is_no_due_date(text: str) -> None:
    assert resolve_due(text, TUESDAY) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the rollout starts Monday the 16th and finishes by March 27th", date(2026, 3, 27)),
        ("3月16号开始换，3月27号前换完", date(2026, 3, 27)),
    ],
)
def test_a_start_date_is_not_the_deadline(text: str, expected: date) -> None:
    assert [m.starts_work for m in find_dates(text, TUESDAY)] == [True, False]
    assert resolve_due(text, TUESDAY) == expected
