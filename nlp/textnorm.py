"""Transcript text clean-up: Simplified Chinese, script detection, spacing between scripts."""

from __future__ import annotations

import re
from functools import cache

from opencc import OpenCC

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


def script_language(text: str) -> str | None:
    """ "zh" when the text is mostly Han characters, "en" when mostly Latin letters, else None."""
    han = len(_CJK.findall(text))
    latin_words = len(re.findall(r"[A-Za-z]+", text))
    if han == 0 and latin_words == 0:
        return None
    return "zh" if han >= latin_words else "en"


_DIGITS = "零一二三四五六七八九"
_SMALL_UNITS = ("", "十", "百", "千")
_BIG_UNITS = ("", "万", "亿")
_ZH_NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(%|％)?")
_YEAR_AFTER = re.compile(r"\s*年")


def _group_to_hanzi(n: int) -> str:
    """0 < n < 10000 in Chinese numerals, with 零 for gaps (1005 -> 一千零五)."""
    out: list[str] = []
    zero_pending = False
    for power in range(3, -1, -1):
        digit = n // 10**power % 10
        if digit == 0:
            zero_pending = bool(out)
            continue
        if zero_pending:
            out.append("零")
            zero_pending = False
        out.append(_DIGITS[digit] + _SMALL_UNITS[power])
    return "".join(out)


def int_to_hanzi(n: int) -> str:
    """Read an integer as spoken Mandarin: 12 -> 十二, 200 -> 两百, 40500 -> 四万零五百."""
    if n == 0:
        return "零"
    if n >= 10**12:
        return digits_to_hanzi(str(n))
    groups: list[int] = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    out = ""
    need_zero = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or group < 1000):
            out += "零"
        need_zero = False
        out += _group_to_hanzi(group) + _BIG_UNITS[index]
    if out.startswith("一十"):
        out = out[1:]
    # spoken Mandarin says 两 before 百, 千, 万, 亿 at the head of a number
    if out.startswith("二") and len(out) > 1 and out[1] in "百千万亿":
        out = "两" + out[1:]
    return out


def digits_to_hanzi(digits: str) -> str:
    """Read digit by digit, as for years and codes: 2024 -> 二零二四."""
    return "".join(_DIGITS[int(d)] for d in digits if d.isdigit())


def _number_match_to_hanzi(match: re.Match[str], text: str) -> str:
    whole, fraction, percent = match.group(1), match.group(2), match.group(3)
    digits = whole.replace(",", "")
    is_year = len(digits) == 4 and not fraction and _YEAR_AFTER.match(text, match.end())
    if is_year or (len(digits) > 1 and digits.startswith("0")) or len(digits) > 12:
        spoken = digits_to_hanzi(digits)
    else:
        spoken = int_to_hanzi(int(digits))
    if fraction:
        spoken += "点" + digits_to_hanzi(fraction[1:])
    return "百分之" + spoken if percent else spoken


def zh_numbers_to_hanzi(text: str) -> str:
    """Write Arabic numbers in Mandarin text as spoken numerals: 3月 -> 三月, 8% -> 百分之八."""
    return _ZH_NUMBER.sub(lambda m: _number_match_to_hanzi(m, text), text)


_ZH_PUNCT = str.maketrans({",": "，", "?": "？", "!": "！", ":": "：", ";": "；"})
_SPACE_BETWEEN_HAN = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


def zh_punctuation(text: str) -> str:
    """Full-width punctuation in Mandarin text and a comma where Whisper left a bare space."""
    text = _SPACE_BETWEEN_HAN.sub("，", text)
    text = re.sub(r"[,?!:;](?!\d)", lambda m: m.group(0).translate(_ZH_PUNCT), text)
    return re.sub(r"(?<=[，。？！：；、])\s+", "", text)


def normalize_zh(text: str) -> str:
    """Simplified characters, spoken numerals and full-width punctuation for a Mandarin segment."""
    return zh_punctuation(zh_numbers_to_hanzi(to_simplified(text)))


_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_EN_NUMBER = re.compile(
    r"(?<![\w.:-])(\$)?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:(%)|(st|nd|rd|th)\b)?"
    r"(?![\w.]*\d)(?![:-]\d)"
)


def _below_thousand(n: int) -> str:
    words: list[str] = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
        if n:
            words.append("and")
    if n >= 20:
        words.append(_TENS[n // 10])
        n %= 10
        if n:
            words.append(_ONES[n])
    elif n or not words:
        words.append(_ONES[n])
    return " ".join(words)


def int_to_words(n: int) -> str:
    """Spoken English for 0 <= n < 10**12, British "and": 120 -> one hundred and twenty."""
    if n < 1000:
        return _below_thousand(n)
    parts: list[str] = []
    for scale, name in _SCALES:
        if n >= scale:
            parts.append(f"{_below_thousand(n // scale)} {name}")
            n %= scale
    if n:
        parts.append(("and " if n < 100 else "") + _below_thousand(n))
    return " ".join(parts)


def _year_to_words(n: int) -> str:
    if 2000 <= n <= 2009:
        return int_to_words(n)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{int_to_words(high)} hundred"
    return f"{int_to_words(high)} {'oh ' if low < 10 else ''}{int_to_words(low)}"


def _ordinal(words: str) -> str:
    head, _, last = words.rpartition(" ")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head} {last}".strip()


def _en_number(match: re.Match[str]) -> str:
    dollar, whole, fraction, percent, ordinal = match.groups()
    digits = whole.replace(",", "")
    if len(digits) > 12 or (len(digits) > 1 and digits.startswith("0")):
        return match.group(0)
    value = int(digits)
    is_year = len(whole) == 4 and 1100 <= value <= 2099 and not (dollar or fraction or percent)
    words = _year_to_words(value) if is_year and not ordinal else int_to_words(value)
    if fraction:
        words += " point " + " ".join(_ONES[int(d)] for d in fraction[1:])
    if ordinal:
        words = _ordinal(words)
    if percent:
        words += " percent"
    if dollar:
        words += " dollar" if value == 1 and not fraction else " dollars"
    return words


def en_numbers_to_words(text: str) -> str:
    """Write numbers in English text as spoken words: 48 -> forty eight, 15% -> fifteen percent."""
    return _EN_NUMBER.sub(_en_number, text)
