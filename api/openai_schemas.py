"""The JSON answers of POST /v1/audio/transcriptions, one model per response_format, for /docs.

The route builds its answers itself (api/routes/openai_audio.py, render); these models describe
them. The text forms (text, srt, vtt, the event stream) are documented by their content types.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel


class UsageOut(BaseModel):
    type: Literal["duration"]
    seconds: int = Field(description="the recording's length, rounded up to whole seconds")


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")

    warnings: list[str] | None = Field(default=None, description="only when there are some")
    visit_id: str | None = Field(default=None, description="store=true: the stored visit")


class TranscriptionOut(_Answer):
    """response_format=json."""

    text: str
    usage: UsageOut


class VerboseSegmentOut(BaseModel):
    id: int
    seek: int = Field(description="the start in Whisper's 10 ms frames")
    start: float = Field(description="seconds from the start of the recording")
    end: float
    text: str
    tokens: list[int] = Field(description="always empty: the project keeps words, not tokens")
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


class WordOut(BaseModel):
    word: str
    start: float = Field(description="seconds from the start of the recording")
    end: float


class VerboseTranscriptionOut(_Answer):
    """response_format=verbose_json; segments and words as timestamp_granularities[] asks."""

    task: Literal["transcribe"]
    language: str = Field(description="in words, as OpenAI names it: english, chinese, ...")
    duration: float = Field(description="seconds")
    text: str
    usage: UsageOut
    segments: list[VerboseSegmentOut] | None = None
    words: list[WordOut] | None = None


class DiarizedSegmentOut(BaseModel):
    type: Literal["transcript.text.segment"]
    id: str = Field(description="seg_000, seg_001, ...")
    start: float = Field(description="seconds from the start of the recording")
    end: float
    text: str
    speaker: str = Field(description="the speaker's role (rep, customer) or label")


class DiarizedTranscriptionOut(_Answer):
    """response_format=diarized_json."""

    task: Literal["transcribe"]
    duration: float = Field(description="seconds")
    text: str
    segments: list[DiarizedSegmentOut]
    usage: UsageOut


class TranscriptionAnswer(
    RootModel[TranscriptionOut | VerboseTranscriptionOut | DiarizedTranscriptionOut]
):
    """The transcription in the JSON response_format asked for: json, verbose_json or
    diarized_json."""


class StoredLaterOut(BaseModel):
    """store=true, when the transcript is not ready while the caller waits (202)."""

    text: Literal[""]
    visit_id: str
    status: str = Field(description="the visit's status")
    message: str = Field(description="where the transcript will be once the visit is done")
