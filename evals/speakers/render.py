"""Render the speaker test recordings: two-person visits, visits with 3-4 people, joined days.

Each dialogue in dialogues/*.json is rendered by the project's TTS tool (two voices: rep and
customer); turns whose "voice" (buyer, engineer, rep2, ...) is given a pitch shift are then
pitch-shifted in place with sox, and renders are joined with silence into day recordings. Every
recording gets NAME.mp3.truth.json: the TTS truth plus each turn's "voice" id.

    .venv/bin/python -m evals.speakers.render data/speakers [--only NAME ...]
    .venv/bin/python -m evals.speakers.render data/speakers-heldout --set heldout
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.io import wavfile

HERE = Path(__file__).resolve().parent
DIALOGUES = HERE / "dialogues"
TTS_DIR = Path("/work/shared/tools/tts")
RATE = 16_000
ZH_REP_CENTS = -450  # synth.py's Mandarin rep pitch: both zh voices are one voice pitched
JOIN_GAP_S = 4.0  # silence between two visits joined into one day recording


@dataclass(frozen=True)
class Part:
    """One dialogue inside a recording; cents: extra pitch per voice name (rep, customer, ...)."""

    dialogue: str
    cents: dict[str, int] = field(default_factory=dict)


# Voice names in a dialogue: the turn's "voice", else its speaker. Two-voice visits first.
RECORDINGS: dict[str, list[Part]] = {
    "en_valves": [Part("en_valves")],
    "en_labels": [Part("en_labels")],
    "zh_pumps": [Part("zh_pumps")],
    "zh_forklift": [Part("zh_forklift")],
    "en_software": [Part("en_software", {"engineer": 400})],
    "zh_erp": [Part("zh_erp", {"engineer": 400})],
    "en_day3": [Part("en_valves"), Part("en_labels", {"customer": 400})],
    "zh_day3": [Part("zh_pumps"), Part("zh_forklift", {"customer": 400})],
    "en_packaging": [Part("en_packaging", {"rep2": 400, "buyer": -400})],
    "zh_coating": [Part("zh_coating", {"rep2": -400, "buyer": 400})],
    "en_day4": [
        Part("en_valves"),
        Part("en_labels", {"customer": 400}),
        Part("en_software", {"buyer": -400, "engineer": 400}),
    ],
    "zh_day4": [
        Part("zh_pumps"),
        Part("zh_forklift", {"customer": 400}),
        Part("zh_erp", {"buyer": 400, "engineer": 800}),
    ],
    # the rep alone, for voice enrolment
    "en_rep_voice": [Part("en_rep_voice")],
    "zh_rep_voice": [Part("zh_rep_voice")],
}

# Never used to choose constants: a check that the figures hold on dialogues and pitches unseen.
HELDOUT: dict[str, list[Part]] = {
    "en_cloud": [Part("en_cloud")],
    "zh_packaging": [Part("zh_packaging")],
    "zh_hospital": [Part("zh_hospital", {"doctor": 300})],
    "en_fleet": [Part("en_fleet", {"rep2": -300, "mechanic": 300})],
    "zh_day3b": [Part("zh_packaging"), Part("zh_pumps", {"customer": 300})],
    "en_day4b": [
        Part("en_cloud"),
        Part("en_valves", {"customer": 300}),
        Part("en_labels", {"customer": -300}),
    ],
    "zh_day4b": [
        Part("zh_packaging"),
        Part("zh_hospital", {"customer": 600, "doctor": 300}),
    ],
    "en_rep_voice": [Part("en_rep_voice")],
    "zh_rep_voice": [Part("zh_rep_voice")],
}
SETS = {"tuning": RECORDINGS, "heldout": HELDOUT}


def tts_python() -> str:
    """The TTS tool's interpreter (setup.sh builds its environment on first use)."""
    out = subprocess.run(
        ["bash", str(TTS_DIR / "setup.sh")], check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1] + "/bin/python"


def synthesize(py: str, dialogue: Path, wav: Path) -> dict:  # type: ignore[type-arg]  # truth json
    subprocess.run(
        [py, str(TTS_DIR / "synth.py"), str(dialogue), str(wav), "--seed", "7"],
        check=True,
        capture_output=True,
    )
    truth: dict = json.loads(Path(f"{wav}.truth.json").read_text(encoding="utf-8"))  # type: ignore[type-arg]
    return truth


def pitch(samples: np.ndarray, cents: int, tmp: Path) -> np.ndarray:
    """samples (float32 16 kHz) shifted by cents with sox, same length."""
    src, dst = tmp / "in.wav", tmp / "out.wav"
    wavfile.write(src, RATE, (np.clip(samples, -1, 1) * 32767).astype(np.int16))
    subprocess.run(["sox", "-R", str(src), str(dst), "pitch", str(cents)], check=True)
    out = wavfile.read(dst)[1].astype(np.float32) / 32768.0
    return np.pad(out, (0, max(0, len(samples) - len(out))))[: len(samples)]


def voice_id(language: str, speaker: str, cents: int) -> str:
    """A name per distinct voice: zh voices are one voice at a total pitch, en two espeak voices."""
    if language.startswith("zh"):
        return f"zh{cents + (ZH_REP_CENTS if speaker == 'rep' else 0):+d}"
    return f"en-{speaker}{cents:+d}"


def render_part(py: str, part: Part, tmp: Path) -> tuple[np.ndarray, dict]:  # type: ignore[type-arg]
    dialogue_path = DIALOGUES / f"{part.dialogue}.json"
    dialogue = json.loads(dialogue_path.read_text(encoding="utf-8"))
    wav = tmp / f"{part.dialogue}.wav"
    truth = synthesize(py, dialogue_path, wav)
    samples = wavfile.read(wav)[1].astype(np.float32) / 32768.0
    for turn, said in zip(truth["turns"], dialogue["turns"], strict=True):
        name = said.get("voice", said["speaker"])
        cents = part.cents.get(name, 0)
        a, b = round(turn["start"] * RATE), round(turn["end"] * RATE)
        if cents:
            samples[a:b] = pitch(samples[a:b], cents, tmp)
        turn["voice"] = voice_id(truth["language"], said["speaker"], cents)
    return samples, truth


def render(
    name: str, out_dir: Path, py: str, recordings: dict[str, list[Part]] = RECORDINGS
) -> Path:
    """Render recording `name` to out_dir/name.mp3 with its .truth.json beside it."""
    pieces: list[np.ndarray] = []
    turns: list[dict] = []  # type: ignore[type-arg]
    offset_s = 0.0
    languages = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for i, part in enumerate(recordings[name]):
            if i:
                pieces.append(np.zeros(round(JOIN_GAP_S * RATE), dtype=np.float32))
                offset_s += JOIN_GAP_S
            samples, truth = render_part(py, part, tmp)
            languages.append(truth["language"])
            for turn in truth["turns"]:
                turn["index"] = len(turns)
                turn["start"] = round(turn["start"] + offset_s, 3)
                turn["end"] = round(turn["end"] + offset_s, 3)
                turns.append(turn)
            pieces.append(samples)
            offset_s += len(samples) / RATE
        signal = np.concatenate(pieces)
        wav = tmp / "all.wav"
        wavfile.write(wav, RATE, (np.clip(signal, -1, 1) * 32767).astype(np.int16))
        audio = out_dir / f"{name}.mp3"
        subprocess.run(
            ["ffmpeg", "-y", "-loglevel", "error", "-i", str(wav), "-b:a", "24k", str(audio)],
            check=True,
        )
    meta = {
        "id": name,
        "language": languages[0],
        "duration": round(len(signal) / RATE, 3),
        "voices": len({t["voice"] for t in turns}),
        "turns": turns,
    }
    Path(f"{audio}.truth.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return audio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--set", choices=sorted(SETS), default="tuning")
    ap.add_argument("--only", nargs="*", help="recording names (default: all of the set)")
    args = ap.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    py = tts_python()
    recordings = SETS[args.set]
    for name in args.only or recordings:
        render(name, args.out_dir, py, recordings)


if __name__ == "__main__":
    main()
