"""Numbers read out on both sides before scoring a transcript, as the reference scorer does:
"48小时" and "四十八小时" score alike, so writing digits costs nothing in error rate."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

_ZH_DIGITS = "零一二三四五六七八九"
_EN_ONES = (
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
)
_EN_TENS = (
    "_",
    "_",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
)
_ZH_NUM = re.compile(r"\d+(?:\.\d+)?%?")
_EN_NUM = re.compile(r"\d[\d,]*(?:\.\d+)?%?")


def zh_cardinal(n: int) -> str:
    """12 -> 十二, 40500 -> 四万零五百."""
    if n == 0:
        return "零"
    out, zero = "", False
    for unit, size in (("亿", 10**8), ("万", 10**4), ("", 1)):
        part, n = divmod(n, size)
        if not part:
            zero = bool(out)
            continue
        s, gap = "", False
        for u, d in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
            x, part = divmod(part, d)
            if x:
                if (gap or (zero and not s)) and (s or out):
                    s += "零"
                s += _ZH_DIGITS[x] + u
                gap = zero = False
            elif s or out:
                gap = True
        out += s + unit
        zero = False
    return out[1:] if out.startswith("一十") else out


def zh_readings(token: str) -> list[str]:
    """Ways a Mandarin speaker reads a digit token, the cardinal first."""
    percent = token.endswith("%")
    t = token.rstrip("%")
    if "." in t:
        whole, frac = t.split(".", 1)
        cands = [zh_cardinal(int(whole)) + "点" + "".join(_ZH_DIGITS[int(c)] for c in frac)]
    else:
        n = int(t)
        card = zh_cardinal(n)
        cands = [card, "".join(_ZH_DIGITS[int(c)] for c in t)]
        if card.startswith("二") and len(card) > 1:
            cands.append("两" + card[1:])
        if n == 2:
            cands.append("两")
    return ["百分之" + c for c in cands] if percent else cands


def en_words(n: int, joiner: str = " ") -> str:
    if n < 20:
        return _EN_ONES[n]
    if n < 100:
        t, o = divmod(n, 10)
        return _EN_TENS[t] + (" " + _EN_ONES[o] if o else "")
    for size, name in (
        (10**9, "billion"),
        (10**6, "million"),
        (1000, "thousand"),
        (100, "hundred"),
    ):
        if n >= size:
            h, r = divmod(n, size)
            glue = joiner if size == 100 and r < 100 else " "
            return en_words(h, joiner) + " " + name + ("" if not r else glue + en_words(r, joiner))
    return str(n)


def en_readings(token: str) -> list[str]:
    percent = token.endswith("%")
    t = token.rstrip("%").replace(",", "")
    if "." in t:
        whole, frac = t.split(".", 1)
        cands = [en_words(int(whole)) + " point " + " ".join(_EN_ONES[int(c)] for c in frac)]
    else:
        n = int(t)
        cands = [en_words(n), en_words(n, " and "), " ".join(_EN_ONES[int(c)] for c in t)]
        if 1100 <= n <= 9999:
            hi, lo = divmod(n, 100)
            rest = (
                " hundred" if not lo else " " + (en_words(lo) if lo >= 10 else "oh " + _EN_ONES[lo])
            )
            cands.append(en_words(hi) + rest)
    return [c + " percent" for c in cands] if percent else cands


def _norm_zh(s: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", s) if ch.isalnum()).lower()


def _norm_en(s: str) -> str:
    return (
        " "
        + " ".join(re.sub(r"[^\w\s']", " ", unicodedata.normalize("NFKC", s).lower()).split())
        + " "
    )


def read_numbers(language: str, text: str, reference: str) -> str:
    """The digits of text spelled out, each in the reading the reference uses (else cardinal)."""
    readings: Callable[[str], list[str]]
    if language == "zh":
        target, pattern, readings = _norm_zh(reference), _ZH_NUM, zh_readings

        def used(c: str) -> bool:
            return c in target
    else:
        target, pattern, readings = _norm_en(reference), _EN_NUM, en_readings

        def used(c: str) -> bool:
            return f" {c} " in target

    def spell(m: re.Match[str]) -> str:
        try:
            cands = readings(m.group())
        except (ValueError, IndexError):
            return m.group()
        chosen = next((c for c in cands if used(c)), cands[0])
        return chosen if language == "zh" else f" {chosen} "

    return pattern.sub(spell, text)
