"""Speaker embeddings with resemblyzer's pretrained encoder: voice prints and sliding windows."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import torch
from resemblyzer import VoiceEncoder
from resemblyzer.audio import wav_to_mel_spectrogram

SAMPLE_RATE = 16_000
FRAME_S = 0.01  # one mel frame every 10 ms
MIN_VOICEPRINT_SPEECH_S = 2.0
_TARGET_RMS = 0.03  # about -30 dBFS, the level the encoder was trained on
_BATCH = 256


@cache
def _cpu_has_bf16() -> bool:
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


@cache
def load_encoder(device: str = "cpu") -> VoiceEncoder:
    """Load resemblyzer's speaker encoder once per process (weights ship inside the package)."""
    encoder = VoiceEncoder(device=device, verbose=False)
    mel_frames(np.zeros(SAMPLE_RATE, dtype=np.float32))  # librosa's first call compiles for ~10 s
    return encoder


def normalize_volume(samples: np.ndarray) -> np.ndarray:
    """Scale float32 audio to the encoder's training loudness without changing its timing."""
    audio = np.asarray(samples, dtype=np.float32).reshape(-1)
    rms = float(np.sqrt(np.mean(audio**2))) if audio.size else 0.0
    if rms < 1e-6:
        return audio
    return audio * np.float32(_TARGET_RMS / rms)


def mel_frames(samples: np.ndarray) -> np.ndarray:
    """Mel spectrogram (n_frames, 40) of 16 kHz audio, one frame per 10 ms."""
    mel: np.ndarray = wav_to_mel_spectrogram(normalize_volume(samples))
    return mel.astype(np.float32)


def embed_windows(
    encoder: VoiceEncoder, mel: np.ndarray, spans: Sequence[tuple[int, int]]
) -> np.ndarray:
    """L2-normalised embeddings (n, 256) of mel frame windows [start, end), batched by length."""
    out = np.zeros((len(spans), 256), dtype=np.float32)
    if not spans:
        return out
    need = max(end for _, end in spans)
    if need > mel.shape[0]:
        mel = np.pad(mel, ((0, need - mel.shape[0]), (0, 0)))
    by_length: dict[int, list[int]] = {}
    for i, (start, end) in enumerate(spans):
        by_length.setdefault(end - start, []).append(i)
    device = torch.device(encoder.device)
    # bf16 halves LSTM time on CPUs with native support; embeddings agree to cosine 0.999
    fast = device.type == "cpu" and _cpu_has_bf16()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast):
        for idx in by_length.values():
            for i in range(0, len(idx), _BATCH):
                chunk = idx[i : i + _BATCH]
                windows = np.stack([mel[spans[j][0] : spans[j][1]] for j in chunk])
                emb = encoder(torch.from_numpy(windows).to(device)).float().cpu().numpy()
                out[chunk] = emb
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    result: np.ndarray = out / np.maximum(norms, 1e-8)
    return result


def speech_frames(mel: np.ndarray) -> np.ndarray:
    """Boolean mask of mel frames louder than the recording's noise floor (energy gate)."""
    energy = np.log(np.maximum(mel, 1e-10)).mean(axis=1)
    if energy.size == 0:
        return np.zeros(0, dtype=bool)
    floor = float(np.percentile(energy, 10))
    peak = float(np.percentile(energy, 95))
    mask: np.ndarray = energy > floor + 0.3 * (peak - floor)
    return mask


def voiceprint(encoder: VoiceEncoder, samples: np.ndarray) -> np.ndarray:
    """256-d L2-normalised voice print of float32 mono 16 kHz audio with at least 2 s of speech."""
    mel = mel_frames(samples)
    voiced = np.flatnonzero(speech_frames(mel))
    speech_s = voiced.size * FRAME_S
    if speech_s < MIN_VOICEPRINT_SPEECH_S:
        raise ValueError(
            f"The voice sample has {speech_s:.1f} s of speech; record at least "
            f"{MIN_VOICEPRINT_SPEECH_S:.0f} s of one person talking."
        )
    speech = mel[voiced]
    n_frames = min(160, speech.shape[0])
    spans = [(s, s + n_frames) for s in range(0, max(1, speech.shape[0] - n_frames + 1), 40)]
    emb = embed_windows(encoder, speech, spans).mean(axis=0)
    result: np.ndarray = (emb / max(float(np.linalg.norm(emb)), 1e-8)).astype(np.float32)
    return result
