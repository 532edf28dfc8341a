"""Personal data in transcripts (phones, ID and bank cards, e-mails, configured names), masked."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from nlp.pii_kinds import RANK_EMAIL, RANK_NAME, Candidate, PiiKind
from nlp.pii_numbers import HAS_DIGITS, numbers

MASKS: dict[PiiKind, str] = {
    PiiKind.PHONE: "[PHONE]",
    PiiKind.ID_CARD: "[ID]",
    PiiKind.BANK_CARD: "[CARD]",
    PiiKind.EMAIL: "[EMAIL]",
    PiiKind.NAME: "[NAME]",
}


@dataclass(frozen=True)
class PiiSpan:
    """text[start:end] (character offsets) is personal data of this kind."""

    start: int
    end: int
    kind: PiiKind


def find_pii(text: str, *, names: Sequence[str] = ()) -> list[PiiSpan]:
    """Non-overlapping PII spans sorted by start; `names` are the visit's configured contacts."""
    if not text:
        return []
    folded = _fold(text)
    candidates: list[Candidate] = []
    if HAS_DIGITS.search(folded):
        candidates += numbers(folded)
    if "@" in folded or _SPOKEN_AT.search(folded):
        candidates += _emails(folded)
    pattern = _name_pattern(tuple(names)) if names else None
    if pattern is not None:
        candidates += (_name_candidate(m) for m in pattern.finditer(folded))
    return _choose(candidates)


def redact(text: str, *, names: Sequence[str] = ()) -> str:
    """The text with each PII span replaced by its mask token, e.g. "[PHONE]"."""
    parts: list[str] = []
    last = 0
    for span in find_pii(text, names=names):
        parts += (text[last : span.start], MASKS[span.kind])
        last = span.end
    parts.append(text[last:])
    return "".join(parts)


def _choose(candidates: list[Candidate]) -> list[PiiSpan]:
    """Longest candidates first, then by rank; a candidate overlapping a chosen one is dropped."""
    chosen: list[Candidate] = []
    for cand in sorted(candidates, key=lambda c: (c[0] - c[1], c[2], c[0])):
        if all(cand[1] <= c[0] or cand[0] >= c[1] for c in chosen):
            chosen.append(cand)
    chosen.sort()
    return [PiiSpan(start, end, kind) for start, end, _, kind in chosen]


def _name_candidate(m: re.Match[str]) -> Candidate:
    return m.start(), m.end(), RANK_NAME, PiiKind.NAME


# Folding keeps every offset: one character in, one character out.
_FOLD_TABLE = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}  # full-width ASCII
_FOLD_TABLE |= {0x3000: 0x20, 0xA0: 0x20, 0x2010: 0x2D, 0x2011: 0x2D, 0x2012: 0x2D, 0x2013: 0x2D}
_FOLD_TABLE |= {0x2014: 0x2D, 0x2015: 0x2D, 0x2212: 0x2D}
_NEEDS_FOLD = re.compile("[\uff01-\uff5e\u3000\u00a0\u2010-\u2015\u2212]")
_ZH_DIGITS = "零〇幺一二三四五六七八九"
_ZH_DIGIT_TABLE = str.maketrans(_ZH_DIGITS, "000123456789")
_ZH_DIGIT_RUN = re.compile(f"[{_ZH_DIGITS}](?:[ -]?[{_ZH_DIGITS}]){{6,}}")  # spoken digit strings


def _fold(text: str) -> str:
    """Full-width forms and spoken digit runs (一三八…) as ASCII, same length as the input."""
    if _NEEDS_FOLD.search(text):
        text = text.translate(_FOLD_TABLE)
    if _ZH_DIGIT_RUN.search(text):
        text = _ZH_DIGIT_RUN.sub(lambda m: m.group(0).translate(_ZH_DIGIT_TABLE), text)
    return text


_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9](?:[A-Za-z0-9._%+\-]*[A-Za-z0-9_%+\-])?"
    r"@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])",
    re.ASCII,
)
_SPOKEN_AT = re.compile(r"艾特|(?i:\sat\s)", re.ASCII)
_TOKEN = r"[a-z0-9](?:[a-z0-9_\-]*[a-z0-9])?"
_STOP = (
    r"(?:at|dot|me|us|it|him|her|them|you|this|that|here|there|is|are|was|be|look|see|meet|"
    r"online|website|site|page|one|and|or|the|a|an|to|from|email|mail|address|send|write)"
)
_WORD = rf"(?!{_STOP}(?![a-z0-9])){_TOKEN}"
_DOT = r"(?:\s*(?:点|\.)\s*|\s+dot\s+)"
_JOIN = rf"(?:{_DOT}|\s*下划线\s*|\s+underscore\s+)"
_TLD = r"(?:com|cn|net|org|edu|gov|io|co|hk|tw|mo|sg|uk|de|fr|jp|au|ca|us|info|biz|me|ai)"
_AT = re.compile(r"\s*(?:艾特|@)\s*|\s+at\s+", re.ASCII | re.IGNORECASE)
_SPOKEN_DOMAIN = re.compile(
    rf"{_TOKEN}(?:{_DOT}{_TOKEN})*{_DOT}{_TLD}(?![a-z0-9])", re.ASCII | re.IGNORECASE
)
_SPOKEN_LOCAL = re.compile(  # searched with endpos at the "at": `$` is where the local part ends
    rf"(?<![a-z0-9])(?:(?P<w1>{_WORD})\s+)?(?P<w2>{_WORD}(?:{_JOIN}{_WORD})*)$",
    re.ASCII | re.IGNORECASE,
)
_SPOKEN_PART = re.compile(r"艾特|点|下划线|(?i:\sat\s|\sdot\s|\sunderscore\s)", re.ASCII)
# A two-word spoken local part ("zhang wei at …") only right after one of these.
_LOCAL_CUE = re.compile(
    r"(?:^|[\u3000-\u9fff\uff00-\uffef:]|(?<![a-z])(?:is|to|email|e-mail|address|mail))\s*[:：]?\s*$",
    re.IGNORECASE,
)


def _emails(text: str) -> Iterator[Candidate]:
    """Written addresses, and spoken ones ("wang dot li at abc dot com", "wangli艾特qq点com")."""
    if "@" in text:
        for m in _EMAIL.finditer(text):
            yield m.start(), m.end(), RANK_EMAIL, PiiKind.EMAIL
    if not _SPOKEN_PART.search(text):
        return
    for at in _AT.finditer(text):
        domain = _SPOKEN_DOMAIN.match(text, at.end())
        if domain is None:
            continue
        local = _SPOKEN_LOCAL.search(text, max(0, at.start() - 64), at.start())
        if local is None or not _SPOKEN_PART.search(text, local.start(), domain.end()):
            continue  # no local part, or a written address found above
        start = local.start()
        if local.group("w1") is not None and not _LOCAL_CUE.search(text, max(0, start - 12), start):
            start = local.start("w2")
        yield start, domain.end(), RANK_EMAIL, PiiKind.EMAIL


_HONORIFICS = (
    "总", "总经理", "总监", "总工", "董", "董事长", "经理", "工", "工程师", "老师", "先生", "女士",
    "小姐", "太太", "主任", "处", "处长", "局", "局长", "科长", "部长", "厂长", "院长", "校长",
    "所长", "行长", "书记", "教授", "博士", "医生", "律师", "主管", "老板", "秘书", "助理", "姐",
    "哥", "师傅",
)  # fmt: skip
_COMPOUND_SURNAMES = frozenset({
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯", "长孙",
    "宇文", "司徒", "端木", "独孤", "南宫", "西门", "申屠", "轩辕", "闻人", "呼延", "万俟", "澹台",
    "公冶", "宗政", "濮阳", "单于", "太叔", "钟离",
})  # fmt: skip
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam"})
_HAN = re.compile(r"^[\u3400-\u9fff·]+$")
_LATIN_LETTER = "A-Za-z\u00c0-\u024f"


@lru_cache(maxsize=256)
def _name_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex for every configured name and the forms people address that person by."""
    han: set[str] = set()
    latin: set[str] = set()
    for raw in names:
        name = " ".join(raw.split())
        if _HAN.match(name):
            if len(name) < 2:
                continue  # a lone character is too common to mask everywhere
            han.add(name)
            surname = name[:2] if name[:2] in _COMPOUND_SURNAMES and len(name) >= 3 else name[0]
            han.update(surname + h for h in _HONORIFICS)
            han.update(("老" + surname, "小" + surname) if len(surname) == 1 else ())
        elif name:
            words = name.split()
            tokens = [t for t in words if len(t) > 1 and t.lower().strip(".") not in _TITLES]
            latin.add(r"\s+".join(map(re.escape, words)))
            if len(tokens) == 2:
                latin.add(r"\s+".join(map(re.escape, reversed(tokens))))
            latin.update(map(re.escape, tokens))
    parts = sorted(map(re.escape, han), key=len, reverse=True)
    if latin:
        alternatives = "|".join(sorted(latin, key=len, reverse=True))
        parts.append(rf"(?<![{_LATIN_LETTER}])(?i:{alternatives})(?![{_LATIN_LETTER}])")
    return re.compile("|".join(parts)) if parts else None
