"""Error rates scored exactly like the reference scorer: zh characters, en words."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import jiwer

_LATIN = re.compile(r"[A-Za-z\uff21-\uff3a\uff41-\uff5a]+")


def norm_zh(text: str) -> str:
    """NFKC, letters and digits only, lower case: the units of a Chinese character error rate."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if ch.isalnum()).lower()


def norm_en(text: str) -> list[str]:
    """NFKC, lower case, punctuation except apostrophes to spaces, split into words."""
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[^\w\s']", " ", text).split()


def strip_latin(text: str) -> str:
    """Drop runs of Latin letters (ERP, CRM) that the corpus's Mandarin voice does not speak."""
    return _LATIN.sub("", text)


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance between two sequences of tokens (characters or words, none holding a
    space): substitutions, deletions and insertions as jiwer aligns them."""
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return int(out.substitutions + out.deletions + out.insertions)


def cer_zh(ref: str, hyp: str) -> tuple[int, int]:
    """(character edits, reference length at least 1) after norm_zh."""
    r, h = norm_zh(ref), norm_zh(hyp)
    return edit_distance(r, h), max(len(r), 1)


def wer_en(ref: str, hyp: str) -> tuple[int, int]:
    """(word edits, reference words at least 1) after norm_en."""
    r, h = norm_en(ref), norm_en(hyp)
    return edit_distance(r, h), max(len(r), 1)
