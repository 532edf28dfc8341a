"""PII redaction: every value in the written set is found, ordinary numbers and words are not."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from nlp.redact import MASKS, PiiKind, PiiSpan, find_pii, redact

EXAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "pii" / "examples.jsonl"
ROWS: list[dict[str, Any]] = [
    json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()
]
POSITIVES = [row for row in ROWS if row["pii"]]
NEGATIVES = [row for row in ROWS if not row["pii"]]


def _id(row: dict[str, Any]) -> str:
    return str(row["text"][:40])


def _with_id_check(body17: str) -> str:
    """Append the ISO 7064 MOD 11-2 check character of a mainland resident ID."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(body17, weights, strict=True))
    return body17 + "10X98765432"[total % 11]


def _with_luhn(body: str) -> str:
    """Append the digit that makes `body` pass the Luhn check."""
    for last in "0123456789":
        digits = [int(c) for c in body + last][::-1]
        total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
        if total % 10 == 0:
            return body + last
    raise AssertionError("unreachable")


def test_example_set_covers_every_kind_in_both_languages() -> None:
    kinds = Counter(item["kind"] for row in POSITIVES for item in row["pii"])
    assert len(POSITIVES) >= 150
    assert len(NEGATIVES) >= 120
    assert {kind: kinds[kind] >= 5 for kind in PiiKind} == {kind: True for kind in PiiKind}
    assert {row["lang"] for row in ROWS} == {"zh", "en", "mixed"}
    assert len({row["text"] for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", POSITIVES, ids=_id)
def test_every_listed_value_is_covered_by_a_span_of_its_kind(row: dict[str, Any]) -> None:
    text, names = row["text"], row.get("names", [])
    spans = find_pii(text, names=names)
    for item in row["pii"]:
        value, kind = item["value"], PiiKind(item["kind"])
        start = text.find(value)
        assert start >= 0, f"{value!r} is not in the text"
        while start >= 0:
            uncovered = [
                i
                for i in range(start, start + len(value))
                if not any(s.start <= i < s.end and s.kind == kind for s in spans)
            ]
            assert not uncovered, f"{value!r} ({kind}) not covered; spans: {spans}"
            start = text.find(value, start + 1)
        assert value not in redact(text, names=names)


@pytest.mark.parametrize("row", NEGATIVES, ids=_id)
def test_ordinary_numbers_and_unconfigured_names_are_left_alone(row: dict[str, Any]) -> None:
    text, names = row["text"], row.get("names", [])
    assert find_pii(text, names=names) == []
    assert redact(text, names=names) == text


def test_spans_are_sorted_and_disjoint_on_the_whole_set() -> None:
    for row in ROWS:
        spans = find_pii(row["text"], names=row.get("names", []))
        for before, after in zip(spans, spans[1:], strict=False):
            assert before.end <= after.start
        assert all(0 <= s.start < s.end <= len(row["text"]) for s in spans)


def test_empty_text_has_no_pii() -> None:
    assert find_pii("") == []
    assert redact("") == ""
    assert redact("", names=["王建国"]) == ""


def test_each_kind_has_its_mask_token() -> None:
    card = "4111 1111 1111 1111"
    text = f"手机 13800138000，邮箱 a.b@example.com，身份证 11010519491231002X，卡号 {card}，王总。"
    assert (
        redact(text, names=["王建国"])
        == "手机 [PHONE]，邮箱 [EMAIL]，身份证 [ID]，卡号 [CARD]，[NAME]。"
    )
    assert set(MASKS) == set(PiiKind)


def test_offsets_point_into_the_original_text() -> None:
    text = "电话１３８００１３８０００，邮箱 li@qq.com"
    spans = find_pii(text)
    assert spans == [PiiSpan(2, 13, PiiKind.PHONE), PiiSpan(17, 26, PiiKind.EMAIL)]
    assert text[2:13] == "１３８００１３８０００"
    assert text[17:26] == "li@qq.com"


def test_phone_inside_an_email_address_is_one_email_span() -> None:
    text = "13800138000@139.com"
    assert find_pii(text) == [PiiSpan(0, len(text), PiiKind.EMAIL)]


def test_id_card_with_a_wrong_check_character_is_not_an_id() -> None:
    valid = _with_id_check("11010519900307123")
    wrong = valid[:-1] + ("1" if valid[-1] != "1" else "2")
    assert find_pii(f"身份证 {valid}") == [PiiSpan(4, 22, PiiKind.ID_CARD)]
    assert find_pii(f"身份证 {wrong}") == []


def test_id_card_with_an_impossible_birth_date_is_not_an_id() -> None:
    for body in ("11010519900231123", "11010518500307123", "99010519900307123"):
        assert find_pii(f"身份证 {_with_id_check(body)}") == [], body


def test_old_fifteen_digit_id_needs_a_real_date() -> None:
    assert [s.kind for s in find_pii("旧身份证 110105710923152")] == [PiiKind.ID_CARD]
    assert find_pii("旧身份证 110105711323152") == []


def test_card_failing_luhn_is_not_a_card() -> None:
    valid = _with_luhn("622202100112345")
    wrong = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    assert [s.kind for s in find_pii(f"卡号 {valid}")] == [PiiKind.BANK_CARD]
    assert find_pii(f"卡号 {wrong}") == []


def test_luhn_valid_number_without_a_card_prefix_or_length_is_not_a_card() -> None:
    assert find_pii(f"编码 {_with_luhn('912345678901234')}") == []  # no network starts with 9
    assert find_pii(f"编码 {_with_luhn('41234567890123')}") == []  # Visa has no 15-digit cards


def test_order_word_before_a_luhn_valid_number_keeps_it_a_reference() -> None:
    number = "4111111111111111"
    assert find_pii(f"订单号 {number}") == []
    assert find_pii(f"order {number}") == []
    assert [s.kind for s in find_pii(f"卡号 {number}")] == [PiiKind.BANK_CARD]


def test_grouped_numbers_keep_all_groups_in_the_span() -> None:
    id_card = _with_id_check("11010119800101101")
    grouped_id = f"{id_card[:6]} {id_card[6:14]} {id_card[14:]}"
    text = f"卡号 6222 0210 0112 3459 和身份证 {grouped_id}"
    spans = find_pii(text)
    assert [text[s.start : s.end] for s in spans] == ["6222 0210 0112 3459", grouped_id]
    assert [s.kind for s in spans] == [PiiKind.BANK_CARD, PiiKind.ID_CARD]


def test_eleven_digits_starting_1_3_to_9_is_a_phone_and_other_lengths_are_not() -> None:
    assert [s.kind for s in find_pii("号码 19912345678")] == [PiiKind.PHONE]
    assert find_pii("号码 1991234567") == []
    assert find_pii("号码 199123456789") == []
    assert find_pii("号码 12345678901") == []


def test_configured_chinese_name_and_its_address_forms_are_masked() -> None:
    forms = [
        "王建国",
        "王总",
        "王经理",
        "王工",
        "王老师",
        "王先生",
        "王女士",
        "王主任",
        "王处",
        "王局",
    ]
    for form in [*forms, "老王", "小王", "王总监"]:
        assert redact(f"{form}说可以。", names=["王建国"]) == "[NAME]说可以。", form


def test_compound_surname_keeps_both_characters() -> None:
    assert redact("欧阳总和欧阳明都来了", names=["欧阳明"]) == "[NAME]和[NAME]都来了"


def test_names_that_are_not_configured_are_not_masked() -> None:
    text = "王总和李经理都同意，Maria 也是。"
    assert find_pii(text) == []
    assert find_pii(text, names=["张伟", "John Smith"]) == []


def test_single_character_name_is_ignored() -> None:
    assert find_pii("王府井的王总", names=["王"]) == []


def test_latin_names_match_case_insensitively_and_by_either_part() -> None:
    names = ["Maria Lopez"]
    assert redact("Ms. Lopez and maria met MARIA LOPEZ.", names=names) == (
        "Ms. [NAME] and [NAME] met [NAME]."
    )
    assert redact("Lopez女士和Maria", names=names) == "[NAME]女士和[NAME]"
    assert find_pii("Marianne Lopezville", names=names) == []


def test_written_and_spoken_email_addresses() -> None:
    assert redact("请发到zhang.wei@abc-corp.com.cn谢谢") == "请发到[EMAIL]谢谢"
    assert redact("邮箱是zhangwei艾特qq点com") == "邮箱是[EMAIL]"
    assert redact("my email is zhang wei at abc dot com.") == "my email is [EMAIL]."
    assert redact("please contact wang at abc dot com") == "please contact [EMAIL]"
    assert find_pii("Let's meet at the lobby at 3pm, look at it dot com later.") == []


def test_phone_extension_is_part_of_the_span() -> None:
    text = "座机 010-12345678 转 801，谢谢"
    assert [text[s.start : s.end] for s in find_pii(text)] == ["010-12345678 转 801"]


def test_international_number_stops_at_a_valid_length() -> None:
    text = "+44 20 7946 0958 20 units"
    assert [text[s.start : s.end] for s in find_pii(text)] == ["+44 20 7946 0958"]
