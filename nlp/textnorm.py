"""Transcript text clean-up: Simplified Chinese, punctuation, written numbers."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import cn2an
from opencc import OpenCC
from text_to_num import find_numbers

from nlp.types import Word

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


@cache
def _t2s() -> OpenCC:
    return OpenCC("t2s")


# OpenCC keeps 著, right in 著名 or 显著 but Traditional for the particle 着 that Whisper writes.
_ZHE_PARTICLE = re.compile(r"(?<![显卓土编原论巨专名遗译合拙昭])著(?![名作称述录者书])")


def to_simplified(text: str) -> str:
    """Convert Traditional Chinese characters to Simplified (OpenCC t2s); other text unchanged."""
    if not _CJK.search(text):
        return text
    return _ZHE_PARTICLE.sub("着", str(_t2s().convert(text)))


_ZH_PUNCT = str.maketrans({",": "，", "?": "？", "!": "！", ":": "：", ";": "；"})
_SPACE_BETWEEN_HAN = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


def zh_punctuation(text: str) -> str:
    """Full-width punctuation in Mandarin text and a comma where Whisper left a bare space."""
    text = _SPACE_BETWEEN_HAN.sub("，", text)
    text = re.sub(r"[,?!:;](?!\d)", lambda m: m.group(0).translate(_ZH_PUNCT), text)
    return re.sub(r"(?<=[，。？！：；、])\s+", "", text)


@dataclass(frozen=True)
class Rewrite:
    """Replace text[start:end] (character offsets) by `text`."""

    start: int
    end: int
    text: str


def apply_rewrites(text: str, rewrites: Sequence[Rewrite]) -> str:
    """Text with non-overlapping rewrites applied; offsets refer to the original text."""
    out: list[str] = []
    at = 0
    for rewrite in sorted(rewrites, key=lambda r: r.start):
        out += [text[at : rewrite.start], rewrite.text]
        at = rewrite.end
    return "".join(out) + text[at:]


def rewrite_words(words: Sequence[Word], rewrites: Sequence[Rewrite]) -> list[Word]:
    """Apply rewrites of the words' joined text, merging the words one rewrite spans (四十+八)."""
    # merged, the words still join up to the segment text, which diarization rebuilds from them
    bounds = [0]
    for word in words:
        bounds.append(bounds[-1] + len(word.text))
    groups: list[tuple[int, int, list[Rewrite]]] = []  # first word, last word, their rewrites
    for rewrite in sorted(rewrites, key=lambda r: r.start):
        first = bisect_right(bounds, rewrite.start) - 1
        last = bisect_right(bounds, rewrite.end - 1) - 1
        if groups and first <= groups[-1][1]:
            groups[-1] = (groups[-1][0], max(last, groups[-1][1]), [*groups[-1][2], rewrite])
        else:
            groups.append((first, last, [rewrite]))
    text = "".join(word.text for word in words)
    out: list[Word] = []
    done = 0
    for first, last, inside in groups:
        base = bounds[first]
        shifted = [Rewrite(r.start - base, r.end - base, r.text) for r in inside]
        out += words[done:first]
        out.append(
            Word(
                start=words[first].start,
                end=words[last].end,
                text=apply_rewrites(text[base : bounds[last + 1]], shifted),
                probability=min(w.probability for w in words[first : last + 1]),
            )
        )
        done = last + 1
    return out + list(words[done:])


def zh_number_rewrites(text: str) -> list[Rewrite]:
    """Where Mandarin numerals in number contexts become digits (cn2an reads their value)."""
    rewrites = [Rewrite(m.start(), m.end(), "100%") for m in re.finditer("百分之百", text)]
    for match in _ZH_RUN.finditer(text):
        rewrite = _zh_rewrite(text, match.start(), match.end())
        if rewrite:
            rewrites.append(rewrite)
    return rewrites


def zh_written_numbers(text: str) -> str:
    """Mandarin numbers as people write them: 三月十五号 -> 3月15号, 百分之二十 -> 20%."""
    return apply_rewrites(text, zh_number_rewrites(text))


# A run starts at a digit or 十: 万一, 千万 (by all means) and 百分百 are words, not numbers.
_ZH_DIGITS = "零〇幺一二两三四五六七八九"
_ZH_RUN = re.compile(f"[{_ZH_DIGITS}十][{_ZH_DIGITS}十百千万亿]*(?:点[{_ZH_DIGITS}十]+[万亿]?)?")
_ZH_DIGIT = dict(zip(_ZH_DIGITS, "0011223456789", strict=True))
_ZH_PLACE = set("十百千万亿")
# Units that make even a one-digit numeral a number: 3月, 5号, 2倍, 3小时, 8%, 5块钱.
_ZH_STRONG_UNITS = (
    "小时", "分钟", "秒", "倍", "%", "％", "元", "块钱", "美元", "美金", "欧元", "日元", "英镑",
    "港币", "岁", "周岁", "公里", "千米", "公斤", "千克", "吨", "平方米", "平米", "厘米", "毫米",
    "米", "毫升", "升", "度",
)  # fmt: skip
# Measure words and units after which a numeral of 10 or more (or a decimal) is a quantity.
_ZH_UNITS = (
    *_ZH_STRONG_UNITS,
    *"个位名人台套件次回遍家间张条只本份批款种项辆部箱包",
    *"瓶盒袋支根片块毛角分层楼级期届轮天日周年月号点页",
    *"章节行字笔单样寸斤亩户座栋所站路多余",
    *("星期", "礼拜", "季度", "以上", "以下", "以内", "左右", "上下", "之间", "出头"),
)
# After these a numeral is part of a word: 周一, 星期三, 礼拜天, 初一, 几十, 三分之一.
_ZH_NOT_AFTER = ("周", "星期", "礼拜", "初", "几", "分之")
_ZH_NOT_BEFORE = ("几", "分之")
_ZH_TIME_OF_DAY = ("上午", "下午", "中午", "晚上", "早上", "凌晨", "傍晚", "早晨", "夜里", "今晚")
_ZH_CLAUSE_END = "，。？！、；：,.?!;:"


def _zh_rewrite(text: str, start: int, end: int) -> Rewrite | None:
    run, before, after = text[start:end], text[:start], text[end:]
    if before.endswith("百分之"):
        value = _zh_value(run)
        return Rewrite(start - 3, end, f"{_plain(value)}%") if value is not None else None
    if before.endswith(_ZH_NOT_AFTER) or after.startswith(_ZH_NOT_BEFORE):
        return None
    if not _ZH_PLACE.intersection(run) and "点" not in run and len(run) > 1:
        return _zh_digit_string(run, start, end, after)
    if "点" in run and after.startswith("分"):  # 九点三十分: a time, not 9.30
        hour, _, minute = run.partition("点")
        h, m = _zh_value(hour), _zh_value(minute)
        if h is None or m is None or h > 24 or m >= 60:
            return None
        return Rewrite(start, end, f"{_plain(h)}点{_plain(m)}")
    value = _zh_value(run)
    if value is None and run.endswith("一") and after.startswith(_ZH_UNITS):
        price = _zh_value(run[:-1])  # 两千五一套: 2500 for each set
        return Rewrite(start, end - 1, _zh_format(price, run[:-1])) if price else None
    if value is None or (run == "十" and after.startswith("分") and not after.startswith("分钟")):
        return None  # 十分 is "very"
    if run[-1] in "万亿" or _zh_is_quantity(value, run, before, after):
        return Rewrite(start, end, _zh_format(value, run))
    return None


def _zh_is_quantity(value: Decimal, run: str, before: str, after: str) -> bool:
    """Whether the numeral counts or measures something here, judged by the words around it."""
    is_integer = value == value.to_integral_value()
    if after.startswith("点"):  # a time (9点半, 下午3点), but 一点 is "a little"
        time_cue = after[1:2] in ("半", "钟") or before.endswith(_ZH_TIME_OF_DAY)
        return is_integer and value <= 24 and (value >= 10 or time_cue)
    if after.startswith("月"):
        return is_integer and 1 <= value <= 12
    if after.startswith("号"):
        return is_integer and value >= 1  # 15号, 5号线
    if after.startswith("日") and before.endswith("月"):
        return is_integer and 1 <= value <= 31
    if after.startswith("块") and not after.startswith("块钱"):
        return value >= 10  # 一块 is also "together"
    if after.startswith(_ZH_STRONG_UNITS):
        return True
    if value < 10 and is_integer:
        return False  # 一个, 两个人, 三台, 一天: counted words read better in characters
    if after.startswith(_ZH_UNITS) or re.match(r"[A-Za-z]", after):
        return True
    # 一共四十。 is a number; a bare 十 at a clause end rarely is
    return len(run) > 1 and (not after or after[0] in _ZH_CLAUSE_END)


def _zh_digit_string(run: str, start: int, end: int, after: str) -> Rewrite | None:
    """Numerals read digit by digit: years (二零二四年) and codes (分机零五七一, 幺三八)."""
    is_year = after.startswith("年") and len(run) in (2, 4)
    is_code = (len(run) >= 3 and any(ch in "零〇幺" for ch in run)) or len(run) >= 7
    if not (is_year or is_code) or "两" in run:
        return None
    return Rewrite(start, end, "".join(_ZH_DIGIT[ch] for ch in run))


def _zh_value(numeral: str) -> Decimal | None:
    """Value of a place-value numeral (两百万, 一万二, 一点五) or None where cn2an finds none."""
    try:
        value = cn2an.cn2an(numeral, "normal")
    except ValueError:  # 三四十, 七八: ranges that people write in characters
        if numeral[-1] not in "万亿" or "点" not in numeral:
            return None
        head = _zh_value(numeral[:-1])  # cn2an refuses 三点五万
        return head * (10**4 if numeral[-1] == "万" else 10**8) if head is not None else None
    return Decimal(str(value))


def _zh_format(value: Decimal, run: str) -> str:
    """Digits, keeping 万 and 亿 as people write them: 两百万 -> 200万, 一亿两千万 -> 1.2亿."""
    if value >= 10**8 and run[-1] in "万亿":
        return f"{_plain(value / 10**8)}亿"
    if run[-1] == "万":
        return f"{_plain(value / 10**4)}万"
    return _plain(value)


def _plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 1.50 -> 1.5, 2E+2 -> 200."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def en_number_rewrites(text: str) -> list[Rewrite]:
    """Where English number words become digits (text2num finds them); see en_written_numbers."""
    spans = [m.span() for m in _EN_TOKEN.finditer(text)]
    tokens = [_EnToken(text[a:b]) for a, b in spans]
    found = [
        _EnNumber(o.start, o.end, str(o.text), Decimal(str(o.value)), bool(o.is_ordinal))
        for o in find_numbers(tokens, "en", 0.0)
    ]
    words = [t.word for t in tokens]
    rewrites: list[Rewrite] = []
    i = 0
    while i < len(found):
        number, joined = found[i], _en_joined(found, i)
        if joined:
            number, i = joined, i + 2
        else:
            i += 1
        rewrite = _en_rewrite(text, spans, words, number, joined is not None)
        if rewrite:
            rewrites.append(rewrite)
    return rewrites


def en_written_numbers(text: str) -> str:
    """English numbers as people write them: forty eight hours -> 48 hours, ten percent -> 10%."""
    # one to nine and first to ninth stay words (one of them, two weeks), as style guides have it
    return apply_rewrites(text, en_number_rewrites(text))


_EN_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*|[^\sA-Za-z0-9]")
_EN_SCALES = {"million", "billion", "trillion"}  # kept as words: 2.5 million, not 2500000
_EN_PERCENT = re.compile(r"\s+(?:percent|per\s+cent)\b", re.IGNORECASE)
_EN_DOLLARS = re.compile(r"\s+dollars?\b", re.IGNORECASE)
_EN_AM_PM = re.compile(r"\s*(?:[ap]\.?m\b\.?|o'clock)", re.IGNORECASE)


class _EnToken:
    """A word or punctuation mark for text2num's find_numbers."""

    def __init__(self, word: str) -> None:
        self.word = word

    def text(self) -> str:
        return self.word

    def nt_separated(self, previous: _EnToken) -> bool:
        return False

    def not_a_number_part(self) -> bool:
        return self.word.lower() in _EN_SCALES


@dataclass(frozen=True)
class _EnNumber:
    """A number text2num found: tokens start..end (exclusive), its digits and value."""

    start: int
    end: int
    digits: str
    value: Decimal
    is_ordinal: bool


def _en_joined(found: Sequence[_EnNumber], i: int) -> _EnNumber | None:
    """Two adjacent numbers read as one: nineteen ninety nine -> 1999, nine thirty -> 9:30."""
    if i + 1 >= len(found):
        return None
    first, second = found[i], found[i + 1]
    if first.end != second.start or first.is_ordinal or second.is_ordinal:
        return None
    if not (first.digits.isdigit() and second.digits.isdigit() and len(second.digits) == 2):
        return None
    if first.digits in ("19", "20") and second.value >= 10:
        year = first.digits + second.digits
        return _EnNumber(first.start, second.end, year, Decimal(year), False)
    if 1 <= first.value <= 12 and 10 <= second.value <= 59:
        clock = f"{first.digits}:{second.digits}"
        return _EnNumber(first.start, second.end, clock, Decimal(0), False)
    return None


def _en_rewrite(
    text: str,
    spans: Sequence[tuple[int, int]],
    words: Sequence[str],
    number: _EnNumber,
    joined: bool,
) -> Rewrite | None:
    start, end = spans[number.start][0], spans[number.end - 1][1]
    first_word = words[number.start].lower()
    if first_word in ("hundred", "thousand") and number.start and words[number.start - 1] == "a":
        start = spans[number.start - 1][0]  # a hundred units -> 100 units
    digits, suffix = number.digits, ""
    scale = re.match(r"\s+(million|billion|trillion)\b", text[end:], re.IGNORECASE)
    if scale:
        suffix, end = " " + scale.group(1).lower(), end + scale.end()
    percent = _EN_PERCENT.match(text, end)
    dollars = _EN_DOLLARS.match(text, end)
    small = number.value < 10 and "." not in digits and not joined and not scale
    if small and not (percent or dollars or _EN_AM_PM.match(text, end)):
        return None  # one of them, the second one, two weeks
    if not joined and "." not in digits and (number.value >= 10**4 or (dollars and not suffix)):
        digits = f"{int(number.value):,}" + digits[len(str(int(number.value))) :]
    if percent:
        return Rewrite(start, percent.end(), f"{digits}{suffix}%")
    if dollars:
        return Rewrite(start, dollars.end(), f"${digits}{suffix}")
    return Rewrite(start, end, digits + suffix)
