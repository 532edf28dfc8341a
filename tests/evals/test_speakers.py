"""Pure helpers of the speaker evaluation: stand-in segments and voice names."""

from __future__ import annotations

import pytest

from evals.speakers.measure import truth_segments
from evals.speakers.render import RECORDINGS, voice_id


def test_truth_turns_become_segments_with_evenly_spaced_words() -> None:
    turns = [
        {"start": 1.0, "end": 3.0, "text": "How are the valves?"},
        {"start": 4.0, "end": 5.0, "text": "还好"},
    ]
    en, zh = truth_segments(turns)
    assert (en.start, en.end, en.text) == (1.0, 3.0, "How are the valves?")
    assert [w.text for w in en.words] == [" How", " are", " the", " valves?"]
    assert en.words[0].start == pytest.approx(1.0) and en.words[-1].end == pytest.approx(3.0)
    assert [w.text for w in zh.words] == ["还", "好"]


def test_mandarin_voices_are_named_by_total_pitch_and_english_by_espeak_voice() -> None:
    assert voice_id("zh", "rep", 0) == "zh-450"
    assert voice_id("zh", "customer", 400) == "zh+400"
    assert voice_id("en", "customer", -400) == "en-customer-400"


def test_every_recording_names_a_dialogue_that_exists() -> None:
    from evals.speakers.render import DIALOGUES

    for parts in RECORDINGS.values():
        for part in parts:
            assert (DIALOGUES / f"{part.dialogue}.json").exists()
