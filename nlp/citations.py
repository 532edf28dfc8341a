"""Citations of a written answer: its sentences, the quote numbers each cites, and the answer cut
to the sentences that cite a quote it was given (nothing a quote does not back is shown)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A citation: [2], [1, 3], [1-3], full-width ［2］ or 【2】.
_CITE = re.compile(r"[\[［【]\s*(\d{1,4}(?:\s*[,，、;；\-–~]\s*\d{1,4})*)\s*[\]］】]")
_ABBREVIATIONS = (r"e\.g", r"i\.e", "vs", "Mr", "Mrs", "Ms", "Dr", "cf", "approx")
# A sentence ends at 。！？!? or a full stop (not inside 3.5 or e.g), with the closing quotes and
# the citations right after it ("slow. [1]"), or at a line break.
_FULL_STOP = "".join(rf"(?<!\b{a})" for a in _ABBREVIATIONS) + r"\.+(?![0-9A-Za-z])"
_SENTENCE_END = re.compile(
    rf"(?:[。！？!?]+|{_FULL_STOP})[”’\"'）)」』]*(?:[ \t]*{_CITE.pattern})*|\n"
)
_WORD = re.compile(r"\w", re.UNICODE)
MAX_RANGE = 50  # a range [a-b] longer than this is read as its two ends


@dataclass(frozen=True)
class CheckedAnswer:
    """A written answer cut to the sentences that cite a quote it was given."""

    text: str  # those sentences, citations to numbers no quote has removed, each as [k]
    sentences: int  # in the answer as written
    kept: int  # of them, with at least one citation of a quote given (all kept are)
    invalid_citations: int  # citations of numbers outside 1..quotes, all removed


def cited_numbers(text: str) -> list[int]:
    """Every number the citations of text name, in order ([1-3] is 1, 2, 3)."""
    out: list[int] = []
    for m in _CITE.finditer(text):
        for part in re.finditer(r"(\d+)(?:\s*[\-–~]\s*(\d+))?", m.group(1)):
            a, b = int(part.group(1)), int(part.group(2) or part.group(1))
            out.extend(range(a, b + 1) if 0 <= b - a <= MAX_RANGE else (a, b))
    return out


def _in_quotation(text: str) -> bool:
    """Whether text leaves a quotation open."""
    pairs = (("“", "”"), ("「", "」"), ("『", "』"))
    return any(text.count(a) > text.count(b) for a, b in pairs) or text.count('"') % 2 == 1


def answer_sentences(text: str) -> list[str]:
    """The sentences of an answer, each with the whitespace after it ("".join gives the text
    back); a quotation's own full stops do not end one (a line break does); a piece with no word
    of its own (a bare citation, a stray mark) joins the one before."""
    pieces: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if m.group() != "\n" and _in_quotation(text[start : m.end()]):
            continue
        end = m.end()
        while end < len(text) and text[end] in " \t\n":
            end += 1
        if end > start:
            pieces.append(text[start:end])
        start = end
    if start < len(text):
        pieces.append(text[start:])
    out: list[str] = []
    for piece in pieces:
        if out and not _WORD.search(_CITE.sub("", piece)):
            out[-1] += piece
        else:
            out.append(piece)
    return out


def _tidy(sentence: str) -> str:
    """Spaces left where a citation went: none before punctuation, one between words."""
    sentence = re.sub(r"[ \t]+([.,;:!?。，；：！？）)])", r"\1", sentence)
    return re.sub(r"(\S)[ \t]{2,}(?=\S)", r"\1 ", sentence)


def check_citations(answer: str, quotes: int) -> CheckedAnswer:
    """Keep the sentences that cite at least one of quotes 1..quotes; in them, citations of any
    other number go and the rest are written [k]. Nothing a quote does not back is shown."""
    kept: list[str] = []
    total = invalid = 0
    for sentence in answer_sentences(answer):
        if not _WORD.search(_CITE.sub("", sentence)):
            continue  # a stray citation with nothing to back
        total += 1
        numbers = cited_numbers(sentence)
        valid = [k for k in numbers if 1 <= k <= quotes]
        invalid += len(numbers) - len(valid)
        if not valid:
            if kept and "\n" in sentence[len(sentence.rstrip()) :]:  # keep the line break
                kept[-1] = kept[-1].rstrip() + sentence[len(sentence.rstrip()) :]
            continue

        def rewrite(m: re.Match[str]) -> str:
            return "".join(f"[{k}]" for k in cited_numbers(m.group(0)) if 1 <= k <= quotes)

        kept.append(_tidy(_CITE.sub(rewrite, sentence)))
    text = re.sub(r"\n{3,}", "\n\n", "".join(kept)).strip()
    return CheckedAnswer(text=text, sentences=total, kept=len(kept), invalid_citations=invalid)
