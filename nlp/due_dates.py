"""Due-date phrases in zh and en ("下周五之前", "by Friday the 29th"), resolved against a visit."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

_MAX_CHARS = 4000
_ZH_NUM = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
    "半": 0,
}
_ZH_DAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 4}
_EN_DAY = {d.lower(): i for i, d in enumerate(calendar.day_name)}
_EN_DAY.update({d.lower(): i for i, d in enumerate(calendar.day_abbr)})
_EN_MONTH = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_EN_MONTH.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_EN_NUM = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "couple of": 2,
    "few": 3,
}

_ZH_N = r"(\d+|[一二两俩三四五六七八九十]+|半)"
_EN_N = r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a couple of|a few)"
_DAY_NAMES = "|".join(sorted(_EN_DAY, key=len, reverse=True))
_MONTH_NAMES = "|".join(sorted(_EN_MONTH, key=len, reverse=True))
_ORD = r"(\d{1,2})(?:st|nd|rd|th)"

# One pattern per kind of phrase; each names its groups so _RESOLVERS knows what it has.
_ZH_PATTERNS = [
    (
        "zh_md",
        r"(?:(\d{4})年)?(\d{1,2}|[一二三四五六七八九十]+)月(\d{1,2}|[一二三四五六七八九十]+)[日号]",
    ),
    ("zh_month_part", r"(\d{1,2}|[一二三四五六七八九十]+)月(?:份)?(上旬|中旬|下旬|初|底|末)"),
    ("zh_next_weekday", r"下(?:个)?(?:周|星期|礼拜)([一二三四五六日天末])"),
    ("zh_weekday", r"(?:这|本)?(?:个)?(?:周|星期|礼拜)([一二三四五六日天末])"),
    ("zh_next_week", r"下(?:个)?(?:周|星期|礼拜)"),
    ("zh_this_week", r"(?:这|本)(?:个)?(?:周|星期|礼拜)"),
    ("zh_next_month_end", r"下(?:个)?月(?:底|末)"),
    ("zh_month_end", r"(?:这个|本)?月(?:底|末)"),
    ("zh_next_month_start", r"下(?:个)?月(?:初)?"),
    ("zh_quarter_end", r"(?:这个|本)?季度(?:末|底)"),
    ("zh_year_end", r"(?:今|这)?年(?:底|末)"),
    # a bare "一天" is a length ("做一天的实操"), not a deadline: the span needs 内 or 后
    ("zh_in_days", rf"{_ZH_N}(?:个)?(?:工作日|天)(?:之内|以内|内|后|之后)"),
    ("zh_in_weeks", rf"{_ZH_N}(?:个)?(?:周|星期|礼拜)(?:之内|以内|内|后|之后)"),
    ("zh_day_of_month", r"(\d{1,2})[号日](?:之前|以前|前)"),
    ("zh_day_after_tomorrow", r"大后天|后天"),
    ("zh_tomorrow", r"明天|明日|明早|明儿"),
    ("zh_today", r"今天|今日|当天|今晚|马上|下班前"),
]
_EN_PATTERNS = [
    (  # "Tuesday, July 14th": the weekday only confirms the date
        "en_month_day",
        rf"\b(?:(?:{_DAY_NAMES}),?\s+)?({_MONTH_NAMES})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b",
    ),
    ("en_day_month", rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_NAMES})\b"),
    ("en_month_part", rf"\b(?:(mid|early|late)[- ]|end of\s+)({_MONTH_NAMES})\b"),
    ("en_weekday_dom", rf"\b(?:{_DAY_NAMES}),?\s+the\s+{_ORD}\b"),  # "Friday the 29th"
    ("en_next_weekday", rf"\bnext\s+({_DAY_NAMES})\b"),
    ("en_weekday", rf"\b(?:this\s+)?({_DAY_NAMES})\b"),
    ("en_end_next_month", r"\bend of next month\b"),
    ("en_month_end", r"\b(?:the\s+)?(?:end of (?:the|this) month|month[- ]end|end of month)\b"),
    ("en_end_week", r"\b(?:end of (?:the|this) week|end of week)\b"),
    ("en_next_week", r"\bnext week\b"),
    ("en_this_week", r"\bthis week\b"),
    ("en_next_month", r"\bnext month\b"),
    ("en_quarter_end", r"\b(?:end of (?:the|this) quarter|quarter[- ]end)\b"),
    ("en_year_end", r"\b(?:end of (?:the|this) year|year[- ]end)\b"),
    ("en_in_business_days", rf"\b(?:within|in)\s+{_EN_N}\s+(?:business|working)\s+days?\b"),
    ("en_in_days", rf"\b(?:within|in)\s+(?:the\s+next\s+)?{_EN_N}\s+days?\b"),
    ("en_in_weeks", rf"\b(?:within|in)\s+(?:the\s+next\s+)?{_EN_N}\s+weeks?\b"),
    ("en_day_of_month", rf"\b(?:by|on|before)\s+the\s+{_ORD}\b"),
    ("en_tomorrow", r"\btomorrow\b"),
    (
        "en_today",
        r"\b(?:today|tonight|end of (?:the )?day|eod|this afternoon|this morning|"
        r"right away|straight away)\b",
    ),
]
_N_GROUPS = {name: re.compile(rx).groups for name, rx in _ZH_PATTERNS + _EN_PATTERNS}
DATE_RE = re.compile(
    "|".join(f"(?P<{name}>{rx})" for name, rx in _ZH_PATTERNS + _EN_PATTERNS), re.IGNORECASE
)

_SPANS = frozenset(
    ["zh_in_days", "zh_in_weeks", "en_in_days", "en_in_weeks", "en_in_business_days"]
)
_EVENT_BEFORE = re.compile(r"(?:后|以后|之后)\s*$")
_GONE_BEFORE = re.compile(r"(?:上|\blast\s+)$", re.IGNORECASE)  # "上周五", "last Friday"
_EVENT_AFTER = re.compile(r"^\s*(?:of|after|from|once)\b", re.IGNORECASE)
# A vague period ("next week", "下个月", "early April", "3月下旬") says when something happens,
# not by when it is due, unless a deadline word stands next to it ("by next week", "下周之前").
_VAGUE = frozenset(
    [
        "zh_next_week",
        "en_next_week",
        "zh_next_month_start",
        "en_next_month",
        "zh_month_part",
        "en_month_part",
    ]
)
_VAGUE_ENDS = re.compile(r"底|末|^end\b", re.IGNORECASE)
_DEADLINE_BEFORE = re.compile(
    r"\b(?:by|before|until|no later than|end of)\s+(?:the\s+)?$", re.IGNORECASE
)
_DEADLINE_AFTER = re.compile(r"^\s*(?:之前|以前|前|之内|以内|内|为止|截止)")
# "starts Monday the 9th", "2月24号开始换": the date work begins, not its deadline
_START_BEFORE = re.compile(
    r"\b(?:starts?|starting|begins?|beginning|from)\s+(?:on\s+)?$", re.IGNORECASE
)
_START_AFTER = re.compile(r"^\s*(?:开始|起)")


def _zh_int(s: str) -> int:
    if s.isdigit():
        return int(s)
    if s == "半":
        return 0
    if "十" in s:
        left, _, right = s.partition("十")
        return (_ZH_NUM.get(left, 1) if left else 1) * 10 + (_ZH_NUM.get(right, 0) if right else 0)
    return sum(_ZH_NUM.get(ch, 0) for ch in s)


def _en_int(s: str) -> int:
    s = s.lower().removeprefix("a ").strip() if s.lower().startswith("a ") else s.lower()
    return int(s) if s.isdigit() else _EN_NUM.get(s, 1)


def _month_end(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def _add_months(d: date, n: int) -> date:
    m = d.month - 1 + n
    y = d.year + m // 12
    return date(y, m % 12 + 1, 1)


def _upcoming(d: date, weekday: int) -> date:
    """The next `weekday` on or after d (today counts)."""
    return d + timedelta(days=(weekday - d.weekday()) % 7)


def _next_week(d: date, weekday: int) -> date:
    """`weekday` of the calendar week (Monday first) after d's."""
    return d - timedelta(days=d.weekday()) + timedelta(days=7 + weekday)


def _business_days(d: date, n: int) -> date:
    while n > 0:
        d += timedelta(days=1)
        if d.weekday() < 5:
            n -= 1
    return d


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _dated(visit: date, month: int, day: int, year: int | None) -> date | None:
    got = _safe_date(year or visit.year, month, day)
    if got is not None and year is None and got < visit - timedelta(days=60):
        got = _safe_date(visit.year + 1, month, day)
    return got


def _month_part(visit: date, month: int, part: str) -> date:
    first = _dated(visit, month, 1, None) or visit
    part_day = {"上旬": 10, "初": 5, "中旬": 15, "early": 10, "mid": 15}.get(part)
    return first.replace(day=part_day) if part_day else _month_end(first)


def _day_of_month(visit: date, day: int) -> date | None:
    """The next `day` of a month on or after the visit."""
    got = _safe_date(visit.year, visit.month, day)
    if got is not None and got < visit:
        nxt = _add_months(visit, 1)
        got = _safe_date(nxt.year, nxt.month, day)
    return got


def _this_week(visit: date) -> date:
    return _upcoming(visit, 4) if visit.weekday() <= 4 else visit


def _quarter_end(visit: date) -> date:
    return _month_end(date(visit.year, ((visit.month - 1) // 3 + 1) * 3, 1))


def _zh_md(g: Sequence[str], visit: date, phrase: str) -> date | None:
    year = int(g[0]) if len(g) == 3 else None
    return _dated(visit, _zh_int(g[-2]), _zh_int(g[-1]), year)


def _zh_in_days(g: Sequence[str], visit: date, phrase: str) -> date:
    n = _zh_int(g[0])
    return _business_days(visit, n) if "工作日" in phrase else visit + timedelta(days=n)


Resolver = Callable[[Sequence[str], date, str], date | None]
_RESOLVERS: dict[str, Resolver] = {
    "zh_md": _zh_md,
    "zh_month_part": lambda g, v, p: _month_part(v, _zh_int(g[0]), g[1]),
    "en_month_part": lambda g, v, p: _month_part(
        v, _EN_MONTH[g[-1].lower()], g[0].lower() if len(g) == 2 else "end"
    ),
    "zh_next_weekday": lambda g, v, p: _next_week(v, _ZH_DAY[g[0]]),
    "zh_weekday": lambda g, v, p: _upcoming(v, _ZH_DAY[g[0]]),
    "en_weekday_dom": lambda g, v, p: _day_of_month(v, int(g[0])),
    "en_next_weekday": lambda g, v, p: _next_week(v, _EN_DAY[g[0].lower()]),
    "en_weekday": lambda g, v, p: _upcoming(v, _EN_DAY[g[0].lower()]),
    "zh_next_week": lambda g, v, p: _next_week(v, 4),
    "en_next_week": lambda g, v, p: _next_week(v, 4),
    "zh_this_week": lambda g, v, p: _this_week(v),
    "en_this_week": lambda g, v, p: _this_week(v),
    "en_end_week": lambda g, v, p: _this_week(v),
    "zh_month_end": lambda g, v, p: _month_end(v),
    "en_month_end": lambda g, v, p: _month_end(v),
    "zh_next_month_end": lambda g, v, p: _month_end(_add_months(v, 1)),
    "en_end_next_month": lambda g, v, p: _month_end(_add_months(v, 1)),
    "zh_next_month_start": lambda g, v, p: _add_months(v, 1),
    "en_next_month": lambda g, v, p: _month_end(_add_months(v, 1)),
    "zh_quarter_end": lambda g, v, p: _quarter_end(v),
    "en_quarter_end": lambda g, v, p: _quarter_end(v),
    "zh_year_end": lambda g, v, p: date(v.year, 12, 31),
    "en_year_end": lambda g, v, p: date(v.year, 12, 31),
    "zh_in_days": _zh_in_days,
    "zh_in_weeks": lambda g, v, p: v + timedelta(days=7 * max(_zh_int(g[0]), 1)),
    "en_in_business_days": lambda g, v, p: _business_days(v, _en_int(g[0])),
    "en_in_days": lambda g, v, p: v + timedelta(days=_en_int(g[0])),
    "en_in_weeks": lambda g, v, p: v + timedelta(days=7 * _en_int(g[0])),
    "zh_day_of_month": lambda g, v, p: _day_of_month(v, int(g[0])),
    "en_day_of_month": lambda g, v, p: _day_of_month(v, int(g[0])),
    "en_month_day": lambda g, v, p: _dated(v, _EN_MONTH[g[0].lower().rstrip(".")], int(g[1]), None),
    "en_day_month": lambda g, v, p: _dated(v, _EN_MONTH[g[1].lower()], int(g[0]), None),
    "zh_day_after_tomorrow": lambda g, v, p: v + timedelta(days=3 if p.startswith("大") else 2),
    "zh_tomorrow": lambda g, v, p: v + timedelta(days=1),
    "en_tomorrow": lambda g, v, p: v + timedelta(days=1),
    "zh_today": lambda g, v, p: v,
    "en_today": lambda g, v, p: v,
}


@dataclass(frozen=True)
class DateMention:
    start: int
    end: int
    text: str
    due: date
    starts_work: bool = False  # "starts Monday the 9th": when the work begins, not its deadline


def _after_event(text: str, start: int, end: int) -> bool:
    """A span counted from an event ("收到后两周内") rather than from the visit."""
    return bool(_EVENT_BEFORE.search(text[max(0, start - 2) : start])) or bool(
        _EVENT_AFTER.match(text[end : end + 12])
    )


def _vague(kind: str, text: str, start: int, end: int) -> bool:
    """A period that says when, not by when ("I'll call next week", "下个月上线")."""
    if kind not in _VAGUE or _VAGUE_ENDS.search(text[start:end]):
        return False
    return not (
        _DEADLINE_BEFORE.search(text[max(0, start - 16) : start])
        or _DEADLINE_AFTER.match(text[end : end + 4])
    )


def _starts_work(text: str, start: int, end: int) -> bool:
    return bool(_START_BEFORE.search(text[max(0, start - 16) : start])) or bool(
        _START_AFTER.match(text[end : end + 3])
    )


def find_dates(text: str, visit_date: date) -> list[DateMention]:
    """Every due-date phrase in text, resolved against the visit date (in order of appearance)."""
    out: list[DateMention] = []
    for m in DATE_RE.finditer(text[:_MAX_CHARS]):
        kind = m.lastgroup
        if kind is None:
            continue
        if kind in _SPANS and _after_event(text, m.start(), m.end()):
            continue  # "收到单据后两周内", "within two weeks of delivery": no date yet
        if _vague(kind, text, m.start(), m.end()):
            continue
        if _GONE_BEFORE.search(text[max(0, m.start() - 6) : m.start()]):
            continue  # "上周五", "last Friday": a day gone by
        inner = m.re.groupindex[kind]
        groups = [g for g in m.groups()[inner : inner + _N_GROUPS[kind]] if g is not None]
        due = _RESOLVERS[kind](groups, visit_date, m.group(kind))
        if due is None or due < visit_date:
            continue  # "the June 14 outage" (visit on the 22nd): a day gone by dates no promise
        start = _starts_work(text, m.start(), m.end())
        out.append(DateMention(m.start(), m.end(), m.group(0), due, start))
    return out


def deadline(mentions: Sequence[DateMention]) -> date | None:
    """The due date among a clause's date phrases: the first that is not a start date."""
    for m in mentions:
        if not m.starts_work:
            return m.due
    return mentions[0].due if mentions else None


def resolve_due(phrase: str, visit_date: date) -> date | None:
    """The first due date in `phrase` as a date ("下周五之前", "by end of month"), or None."""
    return deadline(find_dates(phrase, visit_date))
