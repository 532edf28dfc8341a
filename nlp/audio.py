"""Audio files: probe what a file holds and decode it to 16 kHz mono in bounded chunks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16000
_PROBE_DECODE_S = 5.0  # decode this much at probe time so a corrupt stream fails at upload
_ACCEPTED = "Upload mp3, m4a, wav, ogg, opus, flac, webm or an mp4 with sound."

AudioErrorCode = Literal["not_audio", "empty_file", "corrupt_audio", "too_long"]

# Magic bytes of the containers we accept: a file that starts like one but does not open is
# damaged audio, anything else that does not open is not audio at all.
_AUDIO_MAGIC: tuple[tuple[int, bytes], ...] = (
    (0, b"ID3"),
    (0, b"RIFF"),
    (0, b"OggS"),
    (0, b"fLaC"),
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (4, b"ftyp"),  # mp4, m4a
    (0, b"\xff\xf1"),  # ADTS AAC
    (0, b"\xff\xf9"),
    (0, b"#!AMR"),
)
_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip or Office document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
)


class AudioError(Exception):
    """A file that cannot be transcribed, with a stable snake_case code and a user message."""

    def __init__(self, code: AudioErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: AudioErrorCode = code
        self.message = message


@dataclass(frozen=True)
class AudioInfo:
    duration_s: float
    sample_rate: int
    channels: int
    codec: str
    container: str


def _describe(head: bytes) -> str:
    """A short guess at what a non-audio file is, for the error message."""
    for magic, what in _OTHER_MAGIC:
        if head.startswith(magic):
            return what
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:  # a character cut by the end of the sample is still text
            return "an unknown binary file"
    return "a text file"


def _looks_like_audio(head: bytes) -> bool:
    if any(head[at : at + len(magic)] == magic for at, magic in _AUDIO_MAGIC):
        return True
    # a bare MPEG audio frame header: 11 sync bits
    return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0


def _open(path: Path) -> av.container.InputContainer:
    """Open a media file or raise the AudioError that says why it cannot be used."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise AudioError("not_audio", f"The file {path.name} cannot be read: {e.strerror}.") from e
    if size == 0:
        raise AudioError("empty_file", f"The file {path.name} is empty. {_ACCEPTED}")
    with path.open("rb") as f:
        head = f.read(64)
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        if _looks_like_audio(head):
            raise AudioError(
                "corrupt_audio", f"The file {path.name} looks like audio but is damaged."
            ) from e
        raise AudioError(
            "not_audio", f"This file is not audio ({_describe(head)}). {_ACCEPTED}"
        ) from e


def _audio_stream(container: av.container.InputContainer, path: Path) -> av.audio.AudioStream:
    if not container.streams.audio:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "no streams"
        raise AudioError("not_audio", f"The file {path.name} has no sound ({kinds}). {_ACCEPTED}")
    return container.streams.audio[0]


def _duration_s(container: av.container.InputContainer, stream: av.audio.AudioStream) -> float:
    """Duration from the container header, else from the stream, else by scanning packets."""
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / av.time_base
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    end = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None and packet.time_base is not None:
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    container.seek(0)
    return end


def probe(path: Path, *, max_duration_s: float | None = None) -> AudioInfo:
    """Describe an audio file and check that it decodes; raises AudioError with a stable code."""
    with _open(path) as container:
        stream = _audio_stream(container, path)
        ctx = stream.codec_context
        info = AudioInfo(
            duration_s=_duration_s(container, stream),
            sample_rate=int(ctx.sample_rate or 0),
            channels=int(ctx.channels or 0),
            codec=str(ctx.name),
            container=str(container.format.name),
        )
        decoded_s = 0.0
        try:
            for frame in container.decode(stream):
                decoded_s += frame.samples / float(frame.sample_rate or SAMPLE_RATE)
                if decoded_s >= _PROBE_DECODE_S:
                    break
        except av.error.FFmpegError as e:
            raise AudioError(
                "corrupt_audio", f"The file {path.name} is damaged and cannot be decoded."
            ) from e
        if decoded_s == 0.0:
            raise AudioError("corrupt_audio", f"The file {path.name} holds no decodable sound.")
    if max_duration_s is not None and info.duration_s > max_duration_s:
        raise AudioError(
            "too_long",
            f"The recording lasts {info.duration_s / 3600:.1f} h; the limit is "
            f"{max_duration_s / 3600:.1f} h. Split it and upload the parts.",
        )
    return info


def _quiet_cut(samples: npt.NDArray[np.float32], search_s: float) -> int:
    """Index of the quietest 100 ms window in the last search_s seconds, to cut between words."""
    window = SAMPLE_RATE // 10
    start = max(0, len(samples) - int(search_s * SAMPLE_RATE))
    tail = samples[start:]
    n = len(tail) // window
    if n < 2:
        return len(samples)
    energy = np.square(tail[: n * window]).reshape(n, window).mean(axis=1)
    return start + int(np.argmin(energy)) * window + window // 2


def decode_chunks(
    path: Path, chunk_s: float = 600.0
) -> Iterator[tuple[float, npt.NDArray[np.float32]]]:
    """Yield (offset_s, float32 mono 16 kHz samples) of at most chunk_s, cut at a quiet moment."""
    if chunk_s <= 0:
        raise ValueError("chunk_s must be positive")
    target = int(chunk_s * SAMPLE_RATE)
    search_s = min(10.0, chunk_s * 0.2)
    offset = 0
    pending: list[npt.NDArray[np.float32]] = []
    pending_n = 0
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    with _open(path) as container:
        stream = _audio_stream(container, path)
        try:
            for frame in container.decode(stream):
                frame.pts = None  # the resampler rebuilds timing; odd pts break it on some files
                for out in resampler.resample(frame):
                    pending.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
                    pending_n += out.samples
                while pending_n >= target:
                    buf = np.concatenate(pending)
                    cut = _quiet_cut(buf[:target], search_s)
                    yield offset / SAMPLE_RATE, buf[:cut]
                    offset += cut
                    pending, pending_n = [buf[cut:]], len(buf) - cut
            for out in resampler.resample(None):
                pending.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
                pending_n += out.samples
        except av.error.FFmpegError as e:
            raise AudioError(
                "corrupt_audio", f"The file {path.name} is damaged and cannot be decoded."
            ) from e
    if pending_n:
        yield offset / SAMPLE_RATE, np.concatenate(pending)
