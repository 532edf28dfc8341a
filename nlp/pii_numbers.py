"""Number-shaped personal data in folded text (nlp/redact.py): phones, ID cards and bank
cards, each shape accepted by its checksum, length and the words around it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from nlp.pii_kinds import (
    RANK_CARD,
    RANK_ID,
    RANK_OLD_ID,
    RANK_PHONE,
    Candidate,
    PiiKind,
)

HAS_DIGITS = re.compile(r"[0-9](?:[ ()\-.]{0,2}[0-9]){5}")
_CHAIN = re.compile(r"\(?\+?[0-9](?:[ \-.()]{0,3}[0-9])*", re.ASCII)  # digit groups and separators
_SEPARATORS_DELETED = str.maketrans("", "", " -.()+")
_L = r"(?<![0-9A-Za-z_])(?<![0-9][\-/.:])(?<![A-Za-z]-)"  # no digit run or code continues left
_R = r"(?![0-9A-Za-z])(?![\-/.:][0-9])"
_S = r"[ \-]"
_EXT = r"(?:[ ]?(?:-|转|分机|(?i:ext\.?|x))[ ]?[0-9]{1,5})?"
_AREA_CN = r"0(?:10|2[0-9]|[3-9][0-9]{2})"


def _rx(body: str) -> re.Pattern[str]:
    return re.compile(_L + "(?:" + body + ")" + _R, re.ASCII)


_MOBILE_CN = _rx(
    rf"(?:(?:\+|00)86{_S}?|\(\+?86\){_S}?|86{_S}?)?1[3-9][0-9]"
    rf"(?:[0-9]{{8}}|{_S}[0-9]{{4}}{_S}[0-9]{{4}}|[0-9]{_S}[0-9]{{3}}{_S}[0-9]{{4}}"
    rf"|[0-9]{_S}[0-9]{{4}}{_S}[0-9]{{3}}|{_S}[0-9]{{8}}|[0-9]{{4}}{_S}[0-9]{{4}})"
)
_LANDLINE_CN = _rx(rf"(?:\({_AREA_CN}\)[ ]?|{_AREA_CN}{_S}?)[1-9][0-9]{{2,3}}{_S}?[0-9]{{4}}{_EXT}")
_SERVICE_CN = _rx(rf"[48]00(?:{_S}?[0-9]){{7}}{_EXT}")
_TW = _rx(
    rf"09[0-9]{{2}}{_S}?[0-9]{{3}}{_S}?[0-9]{{3}}"
    rf"|(?:\(0[2-8]\)[ ]?|0[2-8]{_S})[0-9]{{3,4}}{_S}[0-9]{{4}}{_EXT}"
)
_HK_MO = _rx(rf"(?:\(85[23]\)|85[23]){_S}?[2-9][0-9]{{3}}{_S}?[0-9]{{4}}")
_NANP = _rx(
    rf"(?:\+?1[ \-.]?)?(?:\([2-9][0-9]{{2}}\)[ ]?[2-9][0-9]{{2}}[ \-.]?[0-9]{{4}}"
    rf"|[2-9][0-9]{{2}}(?P<s>[ \-.])[2-9][0-9]{{2}}(?P=s)[0-9]{{4}}){_EXT}"
)
_INTL = _rx(r"(?:\+|00)[ ]?\(?[1-9][0-9]{0,13}\)?(?:[ \-.]?(?:\([0-9]{1,4}\)|[0-9]{1,5})){0,6}")
_LOCAL = re.compile(  # a number without area code: a phone only after a phone word
    _L + r"(?:[2-9][0-9]{3}[ \-]?[0-9]{4}|[2-9][0-9]{2}[ \-][0-9]{4})" + _R + r"(?!\s*(?:元|块|万|"
    r"千|百|台|个|件|套|人|天|年|月|日|号|%|(?i:units?|percent|dollars|yuan|rmb|usd|pcs)))",
    re.ASCII,
)
_PHONE_CUE = re.compile(
    r"(?:电话|手机|座机|热线|联系|打我|打给|拨打|致电|微信|(?<![A-Za-z])(?i:whatsapp|wechat|hotline|"
    r"call|phone|mobile|cell|tel)(?![A-Za-z]))[^0-9\n]{0,12}$"
)
_ID18 = _rx(r"[1-8][0-9]{5}(?:[ \-]?[0-9]{4}){2}[ \-]?[0-9]{3}[0-9Xx]")
_ID15 = _rx(r"[1-8][0-9]{5}[ \-]?[0-9]{6}[ \-]?[0-9]{3}")
_CARD = _rx(
    r"[0-9]{13,19}|[0-9]{4}(?:[ \-][0-9]{4}){2,3}(?:[ \-][0-9]{1,3})?"
    r"|[0-9]{4}[ \-][0-9]{6}[ \-][0-9]{4,5}|[0-9]{6}[ \-][0-9]{10,13}"
)
_HKID = _rx(r"[A-Z]{1,2}[0-9]{6}(?:\([0-9A]\)|[0-9A])")
_TWID = _rx(r"[A-Z][12][0-9]{8}")
_PASSPORT_CUE = re.compile(r"护照|(?i:passport)")
_PASSPORT = re.compile(
    r"(?i:护照|passport).{0,20}?" + _L + r"(?P<num>[A-Z]{1,2}[0-9]{7,8}|[0-9]{9})" + _R, re.ASCII
)
_NOT_PERSONAL = re.compile(  # a number right after these words is a business reference
    r"订单|单号|合同|编号|发票|运单|快递|物流|序列|型号|批号|工单|流水|货号|料号|串号|(?<![a-z])(?:"
    r"order|invoice|po|sku|tracking|serial|ref|contract|ticket|case|model|part|imei|sn)(?![a-z])"
)
_PERSONAL = re.compile(r"身份证|证件|卡号|银行卡|信用卡|账号|card|account|(?<![a-z])id(?![a-z])")
_ID_REGIONS = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82", "83",
})  # fmt: skip
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_MIN_BIRTH_YEAR, _MAX_BIRTH_YEAR = 1900, 2030
_NATIONAL_DIGITS = {  # E.164 country code: (shortest, longest) national number
    "1": (10, 10), "7": (10, 10), "20": (9, 10), "27": (9, 9), "30": (10, 10), "31": (9, 9),
    "32": (8, 9), "33": (9, 9), "34": (9, 9), "39": (6, 11), "41": (9, 9), "43": (7, 13),
    "44": (9, 10), "45": (8, 8), "46": (7, 10), "47": (8, 8), "48": (9, 9), "49": (6, 13),
    "52": (10, 10), "55": (10, 11), "60": (8, 10), "61": (9, 9), "62": (8, 12), "63": (8, 10),
    "64": (8, 10), "65": (8, 8), "66": (8, 9), "81": (9, 10), "82": (8, 10), "84": (9, 10),
    "86": (10, 11), "90": (10, 10), "91": (10, 10), "852": (8, 8), "853": (8, 8),
    "886": (8, 9), "966": (9, 9), "971": (8, 9), "972": (8, 9),
}  # fmt: skip
_CARD_LENGTHS = (  # first digits: lengths; the first prefix that matches decides
    ("34", (15,)), ("37", (15,)), ("30", (14, 16)), ("36", (14, 16)), ("38", (14, 16)),
    ("35", (16, 17, 18, 19)), ("4", (13, 16, 19)), ("5", (16,)), ("2", (16,)),
    ("6", (16, 17, 18, 19)),
)  # fmt: skip
_LUHN_DOUBLED = {str(d): (2 * d - 9 if d > 4 else 2 * d) for d in range(10)}
_DIGIT_GROUP = re.compile(r"\([0-9]+\)|[0-9]+")


_Accept = Callable[[str, re.Match[str]], int | None]  # the span's end, or None: not PII


@dataclass(frozen=True)
class _Rule:
    """A number shape: its first characters, digits its run needs, and the check that accepts it."""

    pattern: re.Pattern[str]
    first: str
    min_digits: int
    max_digits: int
    kind: PiiKind
    rank: int
    accept: _Accept


def numbers(text: str) -> Iterator[Candidate]:
    """Candidates for every number-shaped kind; checks and context decide what stays."""
    for chain in _CHAIN.finditer(text):
        n_digits = len(chain.group(0).translate(_SEPARATORS_DELETED))
        if n_digits < 6:
            continue
        hi = min(len(text), chain.end() + 13)  # room for an extension ("转 801", "ext. 15")
        covered = 0
        for start in _group_starts(chain):
            if start < covered:
                continue  # inside a number already found here
            for rule in _RULES_BY_FIRST.get(text[start], ()):
                if rule.min_digits <= n_digits <= rule.max_digits:
                    m = rule.pattern.match(text, start, hi)
                    end = None if m is None else rule.accept(text, m)
                    if end is not None:
                        covered = max(covered, end)
                        yield start, end, rule.rank, rule.kind
        yield from _lettered_ids(text, chain.start(), hi)
    if _PASSPORT_CUE.search(text):
        for m in _PASSPORT.finditer(text):
            yield m.start("num"), m.end("num"), RANK_ID, PiiKind.ID_CARD


def _group_starts(chain: re.Match[str]) -> list[int]:
    """Where a number may begin inside a run of digit groups: its start and after each space."""
    starts = [chain.start()]
    i = chain.group(0).find(" ")
    while i != -1:
        starts.append(chain.start() + i + 1)
        i = chain.group(0).find(" ", i + 1)
    return starts


def _lettered_ids(text: str, start: int, hi: int) -> Iterator[Candidate]:
    """Hong Kong and Taiwan IDs: one or two capital letters right before the digits."""
    for letters in (1, 2):
        if start < letters or not "A" <= text[start - letters] <= "Z":
            return
        for pattern, check in ((_HKID, _hkid_ok), (_TWID, _twid_ok)):
            m = pattern.match(text, start - letters, hi)
            if m is not None and check(m.group(0)):
                yield m.start(), m.end(), RANK_ID, PiiKind.ID_CARD


def _whole(text: str, m: re.Match[str]) -> int | None:
    return m.end()


def _fixed_line(text: str, m: re.Match[str]) -> int | None:
    """Not the tail of a longer digit-group run, a list of round numbers or a bare reference."""
    start, number = m.start(), m.group(0)
    if start >= 2 and text[start - 1] in " -" and text[start - 2].isdigit():
        return None
    if number.endswith("00") and all(g.endswith("00") for g in _DIGIT_GROUP.findall(number)):
        return None  # "300-500-1000", price tiers rather than a phone number
    bare = " " not in number and "-" not in number and "(" not in number
    return None if bare and _is_reference(text, start) else m.end()


def _cued_local(text: str, m: re.Match[str]) -> int | None:
    """A number without area code counts only right after a phone word, and not as a date."""
    if not _PHONE_CUE.search(text, max(0, m.start() - 24), m.start()):
        return None
    return None if _looks_like_date(_digits(m.group(0))) else m.end()


def _checked(check: Callable[[str], bool]) -> _Accept:
    """Accept when the digits pass `check` and no order or contract word comes just before."""

    def accept(text: str, m: re.Match[str]) -> int | None:
        if check(_digits(m.group(0))) and not _is_reference(text, m.start()):
            return m.end()
        return None

    return accept


def _digits(s: str) -> str:
    """The digits (and an ID's X) of a matched number, separators dropped."""
    return s.translate(_SEPARATORS_DELETED).upper()


def _is_reference(text: str, start: int) -> bool:
    """An order, contract or part number by the words just before it, and no ID or card cue."""
    before = text[max(0, start - 16) : start].lower()
    return bool(_NOT_PERSONAL.search(before)) and not _PERSONAL.search(before)


def _plausible_date(year: int, month: int, day: int) -> bool:
    if not _MIN_BIRTH_YEAR <= year <= _MAX_BIRTH_YEAR:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _looks_like_date(digits: str) -> bool:
    """YYYYMMDD from 1900 to 2030, which a phone cue nearby does not make a phone number."""
    return len(digits) == 8 and _plausible_date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))


def _id18_ok(chars: str) -> bool:
    """Mainland resident ID: province code, birth date and ISO 7064 MOD 11-2 check character."""
    if len(chars) != 18 or chars[:2] not in _ID_REGIONS or "X" in chars[:17]:
        return False
    if not _plausible_date(int(chars[6:10]), int(chars[10:12]), int(chars[12:14])):
        return False
    total = sum(int(c) * w for c, w in zip(chars, _ID_WEIGHTS, strict=False))
    return "10X98765432"[total % 11] == chars[17]


def _id15_ok(chars: str) -> bool:
    """First-generation 15-digit ID: province code and a 19YYMMDD birth date (no check digit)."""
    if len(chars) != 15 or chars[:2] not in _ID_REGIONS:
        return False
    return _plausible_date(1900 + int(chars[6:8]), int(chars[8:10]), int(chars[10:12]))


def _card_ok(digits: str) -> bool:
    """A card network's prefix and length (Visa 13/16/19, Amex 15, UnionPay 16-19…), Luhn check."""
    lengths = next((n for prefix, n in _CARD_LENGTHS if digits.startswith(prefix)), None)
    if lengths is None or len(digits) not in lengths or "X" in digits:
        return False
    if digits[0] == "2" and not 2221 <= int(digits[:4]) <= 2720:
        return False
    doubled = sum(_LUHN_DOUBLED[c] for c in digits[-2::-2])
    return (doubled + sum(map(int, digits[-1::-2]))) % 10 == 0


def _hkid_ok(token: str) -> bool:
    """Hong Kong identity card, letters and six digits, with its mod-11 check character."""
    chars = token.replace("(", "").replace(")", "")
    body, check = chars[:-1], chars[-1]
    values = [36] * (8 - len(body)) + [ord(c) - 55 if c.isalpha() else int(c) for c in body]
    remainder = sum(v * w for v, w in zip(values, range(9, 1, -1), strict=True)) % 11
    expected = (11 - remainder) % 11
    return check == ("A" if expected == 10 else str(expected))


_TWID_LETTERS = {c: v for v, c in enumerate("ABCDEFGHJKLMNPQRSTUVXYWZIO", start=10)}


def _twid_ok(token: str) -> bool:
    """Taiwan national ID, a letter then 1 or 2 and eight digits, with its mod-10 checksum."""
    value = _TWID_LETTERS[token[0]]
    digits = [int(c) for c in token[1:]]
    weighted = sum(d * w for d, w in zip(digits, range(8, 0, -1), strict=False))
    return (value // 10 + (value % 10) * 9 + weighted + digits[-1]) % 10 == 0


def _international(text: str, m: re.Match[str]) -> int | None:
    """End of a +CC number trimmed to a valid national length for its country, or None."""
    if m.group(0)[0] == "0" and _is_reference(text, m.start()):
        return None
    return _international_end(m)


def _international_end(m: re.Match[str]) -> int | None:
    """End of the match's longest prefix of digit groups that is a valid number for its country."""
    text = m.group(0)
    prefix = 2 if text.startswith("00") else 1
    groups = [(g.end(), g.group(0).strip("()")) for g in _DIGIT_GROUP.finditer(text, prefix)]
    first = groups[0][1]
    code = next((first[:n] for n in (1, 2, 3) if first[:n] in _NATIONAL_DIGITS), None)
    if code is None:
        if prefix == 2 or len(first) > 3:
            return None
        code, shortest, longest = first, 6, 12
    else:
        shortest, longest = _NATIONAL_DIGITS[code]
    national = len(first) - len(code)
    end = groups[0][0] if national and shortest <= national <= longest else None
    for group_end, digits in groups[1:]:
        if digits == "0" and national == 0:
            continue  # "+44 (0)20 …": the trunk zero is not part of the number
        national += len(digits)
        if national > longest:
            break
        if national >= shortest:
            end = group_end
    return None if end is None else m.start() + end


_PHONE, _ID, _CARD_KIND = PiiKind.PHONE, PiiKind.ID_CARD, PiiKind.BANK_CARD
_RULES = (
    _Rule(_MOBILE_CN, "+(018", 11, 99, _PHONE, RANK_PHONE, _whole),
    _Rule(_HK_MO, "(8", 11, 99, _PHONE, RANK_PHONE, _whole),
    _Rule(_LANDLINE_CN, "(0", 10, 99, _PHONE, RANK_PHONE, _fixed_line),
    _Rule(_SERVICE_CN, "48", 10, 99, _PHONE, RANK_PHONE, _fixed_line),
    _Rule(_TW, "(0", 9, 99, _PHONE, RANK_PHONE, _fixed_line),
    _Rule(_NANP, "+(123456789", 10, 99, _PHONE, RANK_PHONE, _fixed_line),
    _Rule(_INTL, "+0", 8, 99, _PHONE, RANK_PHONE, _international),
    _Rule(_LOCAL, "23456789", 7, 8, _PHONE, RANK_PHONE, _cued_local),
    _Rule(_CARD, "23456", 13, 99, _CARD_KIND, RANK_CARD, _checked(_card_ok)),
    _Rule(_ID15, "12345678", 15, 99, _ID, RANK_OLD_ID, _checked(_id15_ok)),
    _Rule(_ID18, "12345678", 17, 99, _ID, RANK_ID, _checked(_id18_ok)),
)
_RULES_BY_FIRST = {c: tuple(r for r in _RULES if c in r.first) for c in "+(0123456789"}
