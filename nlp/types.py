"""Results that cross module boundaries: transcripts, segments, words."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Word:
    start: float  # seconds from the start of the recording
    end: float
    text: str
    probability: float = 1.0


@dataclass
class Segment:
    start: float  # seconds
    end: float
    text: str
    language: str | None = None  # "zh" | "en" | ... as detected for this stretch
    words: list[Word] = field(default_factory=list)
    speaker: str | None = None  # "S1", "S2", ... once diarized
    role: str | None = None  # "rep" | "customer" | "other" once roles are assigned


@dataclass
class Transcript:
    language: str  # dominant language of the recording
    duration: float  # seconds of audio
    segments: list[Segment]
