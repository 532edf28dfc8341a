"""Transcripts as files: importing JSON, SRT, VTT and plain text; exporting SRT, VTT and text."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from nlp.types import Segment
from nlp.vocabulary import Role

TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})")
SPEAKER_PREFIX = re.compile(r"^\s*(?:<v\s+([^>]+)>|\[?([\w\u4e00-\u9fff .-]{1,24})\]?\s*[:：])\s*")
ROLE_WORDS = {
    "rep": Role.REP,
    "sales": Role.REP,
    "salesperson": Role.REP,
    "销售": Role.REP,
    "销售代表": Role.REP,
    "customer": Role.CUSTOMER,
    "client": Role.CUSTOMER,
    "客户": Role.CUSTOMER,
}


class TranscriptFormatError(ValueError):
    """The text could not be read as a transcript; the message says why."""


MAX_SECONDS = 100 * 3600.0  # no visit runs longer: a larger time is a mistake in the file
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates: no database keeps them


def _time(item: dict[str, object], key: str, default: float, index: int) -> float:
    """A segment's start or end in seconds: a finite number from 0 to MAX_SECONDS."""
    value = item.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TranscriptFormatError(f"Segment {index}: {key} must be a number of seconds.")
    if not 0 <= float(value) <= MAX_SECONDS:  # also false for NaN
        raise TranscriptFormatError(
            f"Segment {index}: {key} {value} is not a time from 0 to {MAX_SECONDS:.0f} s."
        )
    return float(value)


def _seconds(stamp: str) -> float:
    m = TIME.fullmatch(stamp.strip())
    if not m:
        raise TranscriptFormatError(f"'{stamp.strip()}' is not a timestamp like 00:01:02,500.")
    h, mnt, sec, frac = m.groups()
    return int(h or 0) * 3600 + int(mnt) * 60 + int(sec) + int(frac.ljust(3, "0")) / 1000


def role_of(speaker: str | None) -> str | None:
    """'rep' or 'customer' when a speaker label names the role itself (Rep, 客户, ...)."""
    if not speaker:
        return None
    return ROLE_WORDS.get(speaker.strip().lower())


def _split_speaker(text: str) -> tuple[str | None, str]:
    m = SPEAKER_PREFIX.match(text)
    if not m:
        return None, text.strip()
    return (m.group(1) or m.group(2)).strip(), text[m.end() :].strip()


def _timed_blocks(text: str) -> list[Segment]:
    segments = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = [ln for ln in block.strip().split("\n") if ln.strip()]
        arrow = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if arrow is None:
            continue
        start, end = lines[arrow].split("-->")[:2]
        if not end.split():
            raise TranscriptFormatError(f"The cue '{lines[arrow].strip()}' has no end time.")
        body = " ".join(lines[arrow + 1 :])
        speaker, said = _split_speaker(body)
        said = re.sub(r"</?[^>]+>", "", said).strip()
        if said:
            segments.append(
                Segment(
                    start=_seconds(start),
                    end=_seconds(end.split()[0]),
                    text=said,
                    speaker=speaker,
                    role=role_of(speaker),
                )
            )
    return segments


def _json_segments(text: str) -> list[Segment]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise TranscriptFormatError(f"The JSON transcript is not valid JSON ({e.msg}).") from e
    except RecursionError as e:
        raise TranscriptFormatError("The JSON transcript nests too deeply to read.") from e
    items = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise TranscriptFormatError(
            'A JSON transcript is a list of segments or {"segments": [...]}.'
        )
    segments, clock = [], 0.0
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise TranscriptFormatError(f"Segment {i} has no text.")
        start = _time(item, "start", clock, i)
        end = _time(item, "end", start + max(1.0, len(item["text"]) / 12), i)
        speaker = item.get("speaker")
        speaker = str(speaker) if speaker is not None else None
        role = item.get("role") if item.get("role") in tuple(Role) else role_of(speaker)
        segments.append(
            Segment(start=start, end=end, text=item["text"].strip(), speaker=speaker, role=role)
        )
        clock = end
    return segments


def _plain_segments(text: str) -> list[Segment]:
    segments, clock = [], 0.0
    for line in text.replace("\r\n", "\n").split("\n"):
        speaker, said = _split_speaker(line)
        if not said:
            continue
        length = max(1.0, len(said) / (4 if re.search(r"[\u4e00-\u9fff]", said) else 15))
        segments.append(
            Segment(
                start=clock, end=clock + length, text=said, speaker=speaker, role=role_of(speaker)
            )
        )
        clock += length
    return segments


def parse_transcript(text: str, fmt: str) -> list[Segment]:
    """Segments of an imported transcript; fmt is json, srt, vtt or txt."""
    if fmt == "json":
        segments = _json_segments(text)
    elif fmt in ("srt", "vtt"):
        segments = _timed_blocks(text)
    else:
        segments = _plain_segments(text)
    segments = [s for s in segments if s.text]
    if not segments:
        raise TranscriptFormatError("The transcript holds no text.")
    if any(UNSTORABLE.search(s.text + (s.speaker or "")) for s in segments):
        raise TranscriptFormatError(
            "The transcript holds NUL or unpaired surrogate characters: save it as UTF-8 text."
        )
    for s in segments:
        if s.end < s.start or s.start < 0 or s.end > MAX_SECONDS:
            raise TranscriptFormatError(f"A segment ends before it starts ({s.start}-{s.end} s).")
    return segments


def _stamp(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _who(s: Segment) -> str:
    return s.role or s.speaker or ""


def to_srt(segments: Sequence[Segment]) -> str:
    blocks = []
    for i, s in enumerate(segments, 1):
        who = f"{_who(s)}: " if _who(s) else ""
        blocks.append(f"{i}\n{_stamp(s.start, ',')} --> {_stamp(s.end, ',')}\n{who}{s.text}\n")
    return "\n".join(blocks)


def to_vtt(segments: Sequence[Segment]) -> str:
    blocks = ["WEBVTT\n"]
    for s in segments:
        who = f"<v {_who(s)}>" if _who(s) else ""
        blocks.append(f"{_stamp(s.start, '.')} --> {_stamp(s.end, '.')}\n{who}{s.text}\n")
    return "\n".join(blocks)


def to_txt(segments: Sequence[Segment]) -> str:
    lines = []
    for s in segments:
        m, sec = divmod(int(s.start), 60)
        who = f" {_who(s)}:" if _who(s) else ""
        lines.append(f"[{m:02d}:{sec:02d}]{who} {s.text}")
    return "\n".join(lines) + "\n"
