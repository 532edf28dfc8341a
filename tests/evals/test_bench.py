"""The bench's summaries: error rates and time against plain faster-whisper, per language."""

from __future__ import annotations

from evals.bench import summarise_asr, summarise_openai


def row(lang: str, name: str, edits: int, seconds: float) -> dict[str, object]:
    return {
        "variant": "clean",
        "lang": lang,
        "ref_len": 100,
        "duration_s": 50.0,
        "plain_edits": 10,
        "plain_s": 10.0,
        f"{name}_edits": edits,
        f"{name}_s": seconds,
    }


def test_end_to_end_summary_sums_edits_and_seconds_per_language() -> None:
    got = summarise_asr([row("en", "e2e", 8, 11.0), row("en", "e2e", 12, 12.0)])
    assert got == {
        "clean/en": {
            "files": 2,
            "plain_error": 0.1,
            "e2e_error": 0.1,
            "e2e_over_plain": 1.15,
            "rtf_e2e": 0.23,
            "rtf_plain": 0.2,
        }
    }


def test_openai_summary_keeps_languages_apart_and_skips_failed_rows() -> None:
    got = summarise_openai([row("zh", "v1", 5, 10.0), {"variant": "clean", "error": "x"}])
    assert list(got) == ["clean/zh"] and got["clean/zh"]["v1_error"] == 0.05
