"""Where a recording's language changes: the spans decoded again, and the prompt history a change
restarts."""

from __future__ import annotations

from nlp.asr_language import WINDOW_S, Run, change_spans, merge_short_runs, whole_spans
from nlp.audio import SAMPLE_RATE
from nlp.types import Segment
from nlp.whisper_model import PromptState, same_language_tail


def seg(start: float, end: float, language: str | None) -> Segment:
    return Segment(start, end, "x", language=language)


def test_a_change_of_written_language_marks_a_window_either_side() -> None:
    segments = [seg(0, 5, "en"), seg(6, 10, "en"), seg(12, 15, "zh"), seg(16, 20, "zh")]
    assert change_spans(segments) == [(10 - WINDOW_S, 12 + WINDOW_S)]


def test_one_language_or_unknown_languages_mark_nothing() -> None:
    assert change_spans([seg(0, 5, "zh"), seg(6, 9, None), seg(10, 12, "zh")]) == []
    assert change_spans([]) == []


def test_segments_out_of_order_are_read_in_time_order() -> None:
    assert change_spans([seg(12, 15, "zh"), seg(0, 5, "en")]) == [(5 - WINDOW_S, 12 + WINDOW_S)]


def test_spans_grow_over_the_segments_and_speech_they_cut_and_stay_in_the_chunk() -> None:
    segments = [seg(100, 108, "en"), seg(130, 140, "zh"), seg(170, 176, "zh")]
    regions = [(int(99.5 * SAMPLE_RATE), int(108.5 * SAMPLE_RATE))]  # chunk starts at 0 s
    got = whole_spans([(105.0, 135.0)], segments, regions, (0.0, 600.0))
    assert got == [(99.5, 140.0)]
    assert whole_spans([(-30.0, 10.0)], [], [], (0.0, 600.0)) == [(0.0, 10.0)]


def test_overlapping_spans_become_one() -> None:
    got = whole_spans([(50.0, 110.0), (100.0, 160.0), (300.0, 360.0)], [], [], (0.0, 600.0))
    assert got == [(50.0, 160.0), (300.0, 360.0)]


def test_a_short_run_in_another_language_joins_its_neighbour() -> None:
    s = SAMPLE_RATE
    runs = [Run(0, 10 * s, "zh"), Run(10 * s, 11 * s, "en"), Run(11 * s, 20 * s, "zh")]
    assert merge_short_runs(runs, 3 * s) == [Run(0, 20 * s, "zh")]


def test_a_window_is_prompted_only_with_text_in_its_own_language() -> None:
    state = PromptState()
    assert same_language_tail(state, "en", []) == []
    assert same_language_tail(state, "en", [1, 2]) == [1, 2]
    assert same_language_tail(state, "zh", [1, 2, 3]) == []  # the change starts afresh
    assert same_language_tail(state, "zh", [1, 2, 3, 4, 5]) == [4, 5]
    assert same_language_tail(state, "en", [1, 2, 3, 4, 5, 6]) == []


def test_text_written_in_another_language_than_its_window_is_not_a_prompt() -> None:
    # the window that holds a change to Mandarin starts in English and comes out in English
    # though its language is zh: the next zh window must not be prompted with that English
    english = {1, 2, 3, 4}

    def written_in(tokens: list[int]) -> str:
        return "en" if english & set(tokens) else "zh"

    state = PromptState()
    assert same_language_tail(state, "en", [1, 2], written_in) == [1, 2]
    assert same_language_tail(state, "zh", [1, 2], written_in) == []  # the change
    assert same_language_tail(state, "zh", [1, 2, 3, 4], written_in) == []  # wrote English
    assert same_language_tail(state, "zh", [1, 2, 3, 4, 5], written_in) == [5]
    assert same_language_tail(state, "zh", [1, 2, 3, 4, 5, 6], written_in) == [5, 6]


def test_one_window_that_wrote_another_language_restarts_the_history() -> None:
    # zh windows wrote Mandarin (5, 6), then one wrote English (7): the whole tail is still
    # mostly Mandarin, but the English must not prompt the next window
    def written_in(tokens: list[int]) -> str | None:
        return None if not tokens else ("en" if 7 in tokens else "zh")

    state = PromptState()
    assert same_language_tail(state, "zh", [5], written_in) == [5]
    assert same_language_tail(state, "zh", [5, 6], written_in) == [5, 6]
    assert same_language_tail(state, "zh", [5, 6, 7], written_in) == []
    assert same_language_tail(state, "zh", [5, 6, 7, 8], written_in) == [8]


def test_a_history_that_faster_whisper_dropped_itself_starts_from_its_beginning() -> None:
    state = PromptState()
    same_language_tail(state, "en", [1, 2])
    same_language_tail(state, "zh", [1, 2, 3, 4])
    assert same_language_tail(state, "zh", []) == []
    assert same_language_tail(state, "zh", [7, 8]) == [7, 8]
