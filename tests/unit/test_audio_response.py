"""Range headers as the audio route reads them for encrypted recordings (RFC 9110 byte ranges)."""

from __future__ import annotations

import pytest

from api.audio_response import RangeNotSatisfiable, byte_range


@pytest.mark.parametrize(
    ("header", "span"),
    [
        ("bytes=0-99", (0, 100)),
        ("bytes=100-", (100, 1000)),
        ("bytes=-100", (900, 1000)),
        ("bytes=-5000", (0, 1000)),
        ("bytes=990-5000", (990, 1000)),
        ("bytes=999-999", (999, 1000)),
        ("Bytes = 5 - 9", (5, 10)),
    ],
)
def test_one_range_is_read_and_cut_to_the_end(header: str, span: tuple[int, int]) -> None:
    assert byte_range(header, 1000) == span


@pytest.mark.parametrize(
    "header", ["bytes=0-1,5-9", "bytes=9-5", "bytes=-", "items=0-9", "bytes=a-b", "bytes=٠-٩"]
)
def test_several_or_malformed_ranges_mean_the_whole_file(header: str) -> None:
    assert byte_range(header, 1000) is None


@pytest.mark.parametrize(("header", "size"), [("bytes=1000-", 1000), ("bytes=-0", 1000)])
def test_a_range_past_the_end_is_not_satisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, size)
