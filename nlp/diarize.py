"""Speaker diarization of ASR segments: voice windows, spectral clustering, per-word labels."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from resemblyzer import VoiceEncoder

from nlp.audio import SAMPLE_RATE
from nlp.types import Segment, Word
from nlp.voiceprint import FRAME_S, embed_windows, mel_frames, speech_frames

WINDOW_S = 1.5  # voice window length; shorter resolves turns better, longer embeds better
HOP_S = 1.0
MAX_CLUSTER_WINDOWS = 1500  # subsample for the N x N affinity on long recordings
SAME_SPEAKER_COS = 0.99  # clusters whose mean voices are closer than this are merged
# ... and, among three or more clusters, those whose centred mean voices are this close: on our
# renders (evals/speakers) one voice split in two scored up to 0.67, two voices at most 0.40
SAME_SPEAKER_CENTERED_COS = 0.45
# one voice split in two scores 0.09-0.20, two voices 0.24-0.50, but a pitch-shifted copy of one
# synthetic voice only 0.15-0.16: so one-voice detection is opt-in (min_speakers=1)
ONE_VOICE_SILHOUETTE = 0.21
MIN_WINDOWS_PER_SPEAKER = 8
GAP_SHARE = 0.8  # a speaker count whose eigengap is this share of the largest one is enough
SWITCH_PENALTY = 0.05  # cost of a speaker change between segments (cosine x seconds)
SWITCH_PENALTY_INSIDE = 0.5  # ... and between two words of one segment
MIN_WINDOW_S = 0.5
MAX_FILL_S = 2.0  # a pause shorter than this between one speaker's segments belongs to the turn
# (and between two speakers, is split at its middle: Whisper ends a segment on its last word's
# end, which falls short of the speech: 0.15-0.2 s at the median on our renders)
CENTER = 1
_SEED = 0


@dataclass
class Diarization:
    """Speaker-labelled copies of the ASR segments, one centroid voice print per speaker."""

    segments: list[Segment]
    speaker_embeddings: dict[str, np.ndarray]
    num_speakers: int


@dataclass(frozen=True)
class _Windows:
    start_s: np.ndarray  # (n,) window starts in seconds
    end_s: np.ndarray  # (n,) window ends in seconds
    segment: np.ndarray  # (n,) index of the ASR segment the window lies in
    embeddings: np.ndarray  # (n, 256)
    voiced: np.ndarray  # (n,) bool: enough speech energy to trust for clustering


def _window_spans(
    segments: Sequence[Segment], n_frames: int, offset_s: float
) -> list[tuple[int, int, int]]:
    """(segment index, start, end) frame spans tiling each segment without leaving it."""
    win = round(WINDOW_S / FRAME_S)
    hop = round(HOP_S / FRAME_S)
    shortest = round(MIN_WINDOW_S / FRAME_S)
    spans = []
    for si, seg in enumerate(segments):
        first = max(0, round((seg.start - offset_s) / FRAME_S))
        last = min(n_frames, round((seg.end - offset_s) / FRAME_S))
        if last - first < shortest:
            mid = (first + last) // 2
            first = max(0, min(mid - shortest // 2, n_frames - shortest))
            last = first + shortest
        if last - first <= win:
            # round short lengths so windows batch together
            length = max(shortest, (last - first) // 10 * 10)
            spans.append((si, first, first + length))
            continue
        starts = list(range(first, last - win + 1, hop))
        if starts[-1] != last - win:
            starts.append(last - win)
        spans.extend((si, s, s + win) for s in starts)
    return spans


def _in_chunk(seg: Segment, start_s: float, end_s: float) -> bool:
    """A segment is embedded in the chunk that holds its middle, and in any other one that holds
    enough of it for a window."""
    overlap = min(seg.end, end_s) - max(seg.start, start_s)
    return start_s <= (seg.start + seg.end) / 2 < end_s or overlap >= MIN_WINDOW_S


def _embed(
    encoder: VoiceEncoder,
    chunks: Iterable[tuple[float, np.ndarray]],
    segments: Sequence[Segment],
) -> _Windows:
    """Voice windows of every segment, one chunk of audio at a time (memory flat with length)."""
    starts, ends, owners, embs, voiced = [], [], [], [], []
    for offset_s, samples in chunks:
        end_s = offset_s + len(samples) / SAMPLE_RATE
        here = [i for i, seg in enumerate(segments) if _in_chunk(seg, offset_s, end_s)]
        if not here:
            continue
        mel = mel_frames(samples)
        spans = _window_spans([segments[i] for i in here], mel.shape[0], offset_s)
        embs.append(embed_windows(encoder, mel, [(s, e) for _, s, e in spans]))
        loud = speech_frames(mel)
        voiced += [bool(loud[s:e].mean() >= 0.5) if loud[s:e].size else False for _, s, e in spans]
        starts += [s * FRAME_S + offset_s for _, s, _ in spans]
        ends += [e * FRAME_S + offset_s for _, _, e in spans]
        owners += [here[si] for si, _, _ in spans]
    # each segment's windows must be one slice (a segment can span two chunks)
    order = np.argsort(np.array(owners, dtype=np.int64), kind="stable")
    return _Windows(
        start_s=np.array(starts, dtype=np.float64)[order],
        end_s=np.array(ends, dtype=np.float64)[order],
        segment=np.array(owners, dtype=np.int64)[order],
        embeddings=np.concatenate(embs)[order] if embs else np.zeros((0, 256), np.float32),
        voiced=np.array(voiced, dtype=bool)[order],
    )


def _affinity(emb: np.ndarray) -> np.ndarray:
    """Cosine affinity refined as in Wang et al. 2018: keep each row's strong links, symmetrise."""
    sim = np.clip(emb @ emb.T, 0.0, 1.0)
    n = sim.shape[0]
    keep = max(2, min(n - 1, int(0.2 * n)))
    thresh = np.sort(sim, axis=1)[:, -keep][:, None]
    pruned = np.where(sim >= thresh, sim, 0.01 * sim)
    sym: np.ndarray = np.maximum(pruned, pruned.T)
    np.fill_diagonal(sym, 0.0)
    return sym


def _spectral(affinity: np.ndarray, k_min: int, k_max: int) -> tuple[int, np.ndarray]:
    """Number of clusters by eigengap within [k_min, k_max], and the spectral embedding rows."""
    deg = affinity.sum(axis=1)
    d = 1.0 / np.sqrt(np.maximum(deg, 1e-10))
    lap = np.eye(len(deg)) - d[:, None] * affinity * d[None, :]
    vals, vecs = np.linalg.eigh(lap)
    k_max = max(k_min, min(k_max, len(vals) - 1))
    gaps = np.diff(vals[: k_max + 1])[k_min - 1 : k_max]
    # the fewest speakers whose eigengap is near the largest: on a short recording the gaps of
    # two and three clusters can be within noise of each other, and one voice split in two
    # costs far more (a rep heard as a customer) than a rare third voice merged
    k = k_min + int(np.flatnonzero(gaps >= GAP_SHARE * gaps.max())[0]) if k_max > k_min else k_min
    rows = vecs[:, :k]
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-10)
    return k, rows


def _kmeans(x: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    labels: np.ndarray = KMeans(n_clusters=k, n_init=10, random_state=_SEED).fit_predict(x)
    return labels


def _centroids(emb: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    cents = np.stack([emb[labels == i].mean(axis=0) for i in range(k) if np.any(labels == i)])
    result: np.ndarray = cents / np.maximum(np.linalg.norm(cents, axis=1, keepdims=True), 1e-10)
    return result


def _cluster(
    emb: np.ndarray,
    raw: np.ndarray,
    num_speakers: int | None,
    min_speakers: int,
    max_speakers: int,
) -> np.ndarray:
    """Cluster label per window: spectral on `emb`, merging clusters whose `raw` voices agree."""
    one = np.zeros(len(emb), dtype=int)
    if len(emb) < 4:
        return one
    aff = _affinity(emb)
    if num_speakers is not None:
        k_lo = k_hi = max(1, min(num_speakers, len(emb) - 1))
    else:
        # eigengaps of a few windows are noise: a speaker needs MIN_WINDOWS_PER_SPEAKER windows
        k_lo = max(2, min_speakers)
        k_hi = max(k_lo, min(max_speakers, len(emb) // MIN_WINDOWS_PER_SPEAKER))
    if k_hi == 1:
        return one
    k, rows = _spectral(aff, min(k_lo, k_hi), k_hi)
    labels = _kmeans(rows, k)
    if num_speakers is None:
        labels = _merge_close(raw, labels)
        labels = _merge_close(emb, labels, SAME_SPEAKER_CENTERED_COS, min_clusters=3)
        if min_speakers <= 1 and _one_voice(emb, labels):
            return one
    return np.unique(labels, return_inverse=True)[1]


def _one_voice(emb: np.ndarray, labels: np.ndarray) -> bool:
    """True when the clusters barely separate (cosine silhouette below ONE_VOICE_SILHOUETTE)."""
    from sklearn.metrics import silhouette_score

    if len(np.unique(labels)) < 2:
        return True
    return float(silhouette_score(emb, labels, metric="cosine")) < ONE_VOICE_SILHOUETTE


def _merge_close(
    emb: np.ndarray, labels: np.ndarray, same_cos: float = SAME_SPEAKER_COS, min_clusters: int = 2
) -> np.ndarray:
    """Merge the closest two clusters while their centroid cosine exceeds same_cos and at least
    min_clusters are left."""
    labels = np.unique(labels, return_inverse=True)[1]
    while labels.max() + 1 >= max(min_clusters, 2):
        cents = _centroids(emb, labels, int(labels.max()) + 1)
        sim = cents @ cents.T
        np.fill_diagonal(sim, -1.0)
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[i, j] <= same_cos:
            break
        labels = np.where(labels == max(i, j), min(i, j), labels)
        labels = np.unique(labels, return_inverse=True)[1]
    return labels


def _viterbi(scores: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """Best label path for (n, k) scores with penalty[i] for a change before step i."""
    n, k = scores.shape
    if n == 0:
        return np.zeros(0, dtype=int)
    total = scores[0].copy()
    back = np.zeros((n, k), dtype=int)
    for i in range(1, n):
        stay = total
        best_prev = int(np.argmax(total))
        switch = total[best_prev] - penalty[i]
        use_switch = switch > stay
        back[i] = np.where(use_switch, best_prev, np.arange(k))
        total = np.where(use_switch, switch, stay) + scores[i]
    path = np.zeros(n, dtype=int)
    path[-1] = int(np.argmax(total))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def _units(segments: Sequence[Segment]) -> list[tuple[int, int, float, float]]:
    """(segment index, word index or -1, start, end) per word, or per segment without words."""
    units: list[tuple[int, int, float, float]] = []
    for si, seg in enumerate(segments):
        if seg.words:
            units.extend((si, wi, w.start, w.end) for wi, w in enumerate(seg.words))
        else:
            units.append((si, -1, seg.start, seg.end))
    return units


def _unit_scores(
    units: list[tuple[int, int, float, float]], win: _Windows, sims: np.ndarray
) -> np.ndarray:
    """Per unit: mean similarity of its segment's windows that cover it, times its duration (s)."""
    scores = np.zeros((len(units), sims.shape[1]))
    # windows are generated segment by segment, so each segment's windows are one slice
    n_seg = int(win.segment.max()) + 1 if len(win.segment) else 0
    bounds = np.searchsorted(win.segment, np.arange(n_seg + 1))
    for i, (si, _, start, end) in enumerate(units):
        own = np.arange(bounds[si], bounds[si + 1]) if si < n_seg else np.arange(0)
        if own.size == 0:
            continue
        mid = (start + end) / 2
        cover = own[(win.start_s[own] <= mid) & (win.end_s[own] >= mid)]
        if cover.size == 0:
            cover = own[[int(np.argmin(np.abs((win.start_s[own] + win.end_s[own]) / 2 - mid)))]]
        scores[i] = sims[cover].mean(axis=0) * max(end - start, 0.05)
    return scores


def _switch_costs(units: list[tuple[int, int, float, float]]) -> np.ndarray:
    """Cost of a speaker change before each unit: low at a segment boundary, high inside one."""
    costs = np.full(len(units), SWITCH_PENALTY_INSIDE)
    for i in range(1, len(units)):
        if units[i][0] != units[i - 1][0]:
            costs[i] = SWITCH_PENALTY
    return costs


def _join_words(words: Sequence[Word]) -> str:
    return "".join(w.text for w in words).strip()


def _split(seg: Segment, labels: Sequence[str]) -> list[Segment]:
    """Copies of one segment, split where the word speaker changes; boundaries between words."""
    if not seg.words:
        return [replace(seg, speaker=labels[0] if labels else None)]
    runs: list[tuple[str, list[Word]]] = []
    for word, label in zip(seg.words, labels, strict=True):
        if runs and runs[-1][0] == label:
            runs[-1][1].append(word)
        else:
            runs.append((label, [word]))
    if len(runs) == 1:
        return [replace(seg, speaker=runs[0][0], words=list(seg.words))]
    out = []
    for i, (label, words) in enumerate(runs):
        start = seg.start if i == 0 else (runs[i - 1][1][-1].end + words[0].start) / 2
        end = seg.end if i == len(runs) - 1 else (words[-1].end + runs[i + 1][1][0].start) / 2
        out.append(
            replace(seg, start=start, end=end, text=_join_words(words), words=words, speaker=label)
        )
    return out


def _fill_pauses(segments: list[Segment]) -> list[Segment]:
    """Close each short pause between segments: the same speaker's turn goes on over it, and
    between two speakers each has half of it."""
    out = list(segments)
    for i in range(len(out) - 1):
        cur, nxt = out[i], out[i + 1]
        gap = nxt.start - cur.end
        if not 0 < gap <= MAX_FILL_S:
            continue
        if cur.speaker == nxt.speaker:
            out[i] = replace(cur, end=nxt.start)
        else:
            middle = cur.end + gap / 2
            out[i], out[i + 1] = replace(cur, end=middle), replace(nxt, start=middle)
    return out


def diarize(
    encoder: VoiceEncoder,
    samples: np.ndarray,
    segments: Sequence[Segment],
    *,
    num_speakers: int | None = None,
    min_speakers: int = 2,
    max_speakers: int = 6,
    offset_s: float = 0.0,
) -> Diarization:
    """diarize_chunks on audio held whole: float32 16 kHz samples starting offset_s seconds into
    the recording that segment times refer to."""
    return diarize_chunks(
        encoder,
        [(offset_s, samples)],
        segments,
        num_speakers=num_speakers,
        min_speakers=min_speakers,
        max_speakers=max_speakers,
    )


def diarize_chunks(
    encoder: VoiceEncoder,
    chunks: Iterable[tuple[float, np.ndarray]],
    segments: Sequence[Segment],
    *,
    num_speakers: int | None = None,
    min_speakers: int = 2,
    max_speakers: int = 6,
) -> Diarization:
    """Label each ASR segment with a speaker S1..Sn (first to talk is S1), splitting at changes.

    The count is found between min_speakers and max_speakers unless num_speakers is given; with
    min_speakers=1 a recording whose voices do not separate is given one speaker. chunks are
    (offset_s, float32 16 kHz samples) in order, as nlp.audio.decode_chunks yields them, read
    once: only the voice windows are kept.
    """
    if num_speakers is not None and num_speakers < 1:
        raise ValueError("num_speakers must be at least 1.")
    if min_speakers > max_speakers:
        raise ValueError("min_speakers must not exceed max_speakers.")
    if not segments:
        return Diarization(segments=[], speaker_embeddings={}, num_speakers=0)
    win = _embed(encoder, chunks, segments)
    if len(win.embeddings) == 0:
        only = [replace(s, speaker="S1") for s in segments]
        return Diarization(segments=only, speaker_embeddings={}, num_speakers=1)
    pick = np.flatnonzero(win.voiced) if win.voiced.sum() >= 4 else np.arange(len(win.voiced))
    if len(pick) > MAX_CLUSTER_WINDOWS:
        pick = pick[np.linspace(0, len(pick) - 1, MAX_CLUSTER_WINDOWS).round().astype(int)]
    raw = win.embeddings
    # removing the recording's mean voice cancels what all windows share (room, noise, codec)
    centered = raw - raw[pick].mean(axis=0) if CENTER else raw
    centered = centered / np.maximum(np.linalg.norm(centered, axis=1, keepdims=True), 1e-10)
    labels = _cluster(centered[pick], raw[pick], num_speakers, min_speakers, max_speakers)
    k = int(labels.max()) + 1
    cents_raw = _centroids(raw[pick], labels, k)
    sims = centered @ _centroids(centered[pick], labels, k).T
    units = _units(segments)
    path = _viterbi(_unit_scores(units, win, sims), _switch_costs(units))

    order: dict[int, str] = {}
    for label in path:
        order.setdefault(int(label), f"S{len(order) + 1}")
    per_segment: list[list[str]] = [[] for _ in segments]
    for (si, _, _, _), label in zip(units, path, strict=True):
        per_segment[si].append(order[int(label)])
    out: list[Segment] = []
    for seg, seg_labels in zip(segments, per_segment, strict=True):
        out.extend(_split(seg, seg_labels))
    out = _fill_pauses(sorted(out, key=lambda seg: seg.start))
    embeddings = {name: cents_raw[idx].astype(np.float32) for idx, name in order.items()}
    return Diarization(segments=out, speaker_embeddings=embeddings, num_speakers=len(order))
