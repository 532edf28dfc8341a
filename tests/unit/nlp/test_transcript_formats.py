from __future__ import annotations

import pytest

from nlp.transcript_formats import (
    TranscriptFormatError,
    parse_transcript,
    role_of,
    to_srt,
    to_txt,
    to_vtt,
)
from nlp.types import Segment

SRT = """1
00:00:01,000 --> 00:00:04,500
Rep: How is the new line?

2
00:00:05,000 --> 00:01:02,250
客户：交货总是晚两周。
"""


def test_srt_is_parsed_with_times_speakers_and_roles() -> None:
    segs = parse_transcript(SRT, "srt")
    assert [(s.start, s.end) for s in segs] == [(1.0, 4.5), (5.0, 62.25)]
    assert [s.role for s in segs] == ["rep", "customer"]
    assert segs[1].text == "交货总是晚两周。"


def test_vtt_voice_tags_name_the_speaker() -> None:
    vtt = "WEBVTT\n\n00:00.000 --> 00:03.000\n<v Customer>Price is too high.\n"
    (seg,) = parse_transcript(vtt, "vtt")
    assert seg.speaker == "Customer" and seg.role == "customer" and seg.text == "Price is too high."


def test_json_segments_keep_speakers_and_fill_missing_times() -> None:
    segs = parse_transcript(
        '{"segments": [{"speaker": "销售", "text": "您好"},'
        ' {"speaker": "B", "text": "你好", "start": 2, "end": 3}]}',
        "json",
    )
    assert segs[0].role == "rep" and segs[0].start == 0.0
    assert segs[1].speaker == "B" and segs[1].role is None and segs[1].end == 3.0


def test_plain_text_lines_become_segments() -> None:
    segs = parse_transcript("Sales: hello there\n\nClient: we need training\n", "txt")
    assert [s.role for s in segs] == ["rep", "customer"]
    assert segs[1].start >= segs[0].end


@pytest.mark.parametrize(
    ("text", "fmt"),
    [("", "txt"), ("[1, 2]", "json"), ("{", "json"), ("1\nnot a time --> x\nhi", "srt")],
)
def test_unreadable_transcripts_raise_a_clear_error(text: str, fmt: str) -> None:
    with pytest.raises(TranscriptFormatError):
        parse_transcript(text, fmt)


def test_exports_round_trip_through_srt() -> None:
    segs = [Segment(0.0, 1.5, "hello", role="rep"), Segment(61.0, 3725.25, "再见", role="customer")]
    srt = to_srt(segs)
    assert "01:02:05,250" in srt
    back = parse_transcript(srt, "srt")
    assert [(s.start, s.end, s.text, s.role) for s in back] == [
        (0.0, 1.5, "hello", "rep"),
        (61.0, 3725.25, "再见", "customer"),
    ]
    assert to_vtt(segs).startswith("WEBVTT")
    assert to_txt(segs).splitlines()[1] == "[01:01] customer: 再见"


def test_role_words_in_both_languages() -> None:
    assert role_of("客户") == "customer" and role_of("Sales") == "rep" and role_of("Bob") is None
