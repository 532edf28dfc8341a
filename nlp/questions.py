"""Find a representative's question in an utterance and type it by SPIN, open or closed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, get_args

import yaml

from nlp.language import main_language
from nlp.textnorm import to_simplified

Spin = Literal["situation", "problem", "implication", "need_payoff"]
SPIN_TYPES: tuple[Spin, ...] = get_args(Spin)
DEFAULT_CUES_PATH = Path(__file__).resolve().parent.parent / "prompts" / "questions.yaml"
# ties between SPIN cue counts go to the earlier type: consequences outrank "if we..." offers
_SPIN_ORDER: tuple[Spin, ...] = ("implication", "need_payoff", "problem")
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])|(?<=\.)\s")
_CLAUSE_SPLIT = re.compile(r"[，,、：:]")
_LEADING_FILLERS = ("so", "and", "but", "okay", "ok", "then", "well", "now", "also", "right")


@dataclass(frozen=True)
class QuestionType:
    """SPIN type of a question and whether it invites a free answer (open) or yes/no (closed)."""

    spin: Spin
    open: bool


@dataclass(frozen=True)
class LanguageCues:
    """Question cues of one language, from prompts/questions.yaml."""

    end_particles: tuple[str, ...]
    open_words: tuple[str, ...]
    closed_words: tuple[str, ...]
    open_invites: tuple[str, ...]
    interrogatives: tuple[str, ...]
    open_starts: tuple[str, ...]
    closed_starts: tuple[str, ...]
    tags: tuple[str, ...]
    tag_only: tuple[str, ...]  # a statement with one of these at its end is not a question
    greetings: tuple[str, ...]  # a sentence that is only a greeting is not a question
    spin: dict[Spin, tuple[str, ...]]


@dataclass(frozen=True)
class QuestionCues:
    """Cue words for question detection and SPIN typing per language, plus role cues."""

    languages: dict[str, LanguageCues]
    rep_cues: dict[str, tuple[str, ...]]
    customer_cues: dict[str, tuple[str, ...]]
    closing_cues: dict[str, tuple[str, ...]]


def _strings(raw: object, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ValueError(f"{where} must be a list of strings.")
    return tuple(x.lower() for x in raw)


def parse_cues(data: dict[str, object]) -> QuestionCues:
    """Validate the parsed questions.yaml mapping into cue tuples."""
    question = data.get("question")
    spin = data.get("spin")
    roles = data.get("roles")
    if not isinstance(question, dict) or not isinstance(spin, dict) or not isinstance(roles, dict):
        raise ValueError("questions.yaml needs 'question', 'spin' and 'roles' mappings.")
    unknown = set(spin) - set(SPIN_TYPES)
    if unknown:
        raise ValueError(f"Unknown SPIN types in questions.yaml: {sorted(unknown)}.")
    languages: dict[str, LanguageCues] = {}
    for lang, raw in question.items():
        q = raw if isinstance(raw, dict) else {}
        per_spin: dict[Spin, tuple[str, ...]] = {}
        for name in SPIN_TYPES:
            by_lang = spin.get(name) or {}
            per_spin[name] = _strings(by_lang.get(lang), f"spin.{name}.{lang}")
        languages[str(lang)] = LanguageCues(
            end_particles=_strings(q.get("end_particles"), f"question.{lang}.end_particles"),
            open_words=_strings(q.get("open_words"), f"question.{lang}.open_words"),
            closed_words=_strings(q.get("closed_words"), f"question.{lang}.closed_words"),
            open_invites=_strings(q.get("open_invites"), f"question.{lang}.open_invites"),
            interrogatives=_strings(q.get("interrogatives"), f"question.{lang}.interrogatives"),
            open_starts=_strings(q.get("open_starts"), f"question.{lang}.open_starts"),
            closed_starts=_strings(q.get("closed_starts"), f"question.{lang}.closed_starts"),
            tags=_strings(q.get("tags"), f"question.{lang}.tags"),
            tag_only=_strings(q.get("tag_only"), f"question.{lang}.tag_only"),
            greetings=_strings(q.get("greetings"), f"question.{lang}.greetings"),
            spin=per_spin,
        )
    rep, customer = roles.get("rep") or {}, roles.get("customer") or {}
    stages = data.get("stages")
    closing = (stages.get("closing") if isinstance(stages, dict) else None) or {}
    return QuestionCues(
        languages=languages,
        rep_cues={str(k): _strings(v, f"roles.rep.{k}") for k, v in rep.items()},
        customer_cues={str(k): _strings(v, f"roles.customer.{k}") for k, v in customer.items()},
        closing_cues={str(k): _strings(v, f"stages.closing.{k}") for k, v in closing.items()},
    )


@cache
def load_cues(path: Path = DEFAULT_CUES_PATH) -> QuestionCues:
    """Read and validate the cue file (prompts/questions.yaml by default), once per process."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a YAML mapping.")
    return parse_cues(data)


def normalize(text: str, language: str | None) -> tuple[str, str]:
    """(language, lower-case text in simplified characters) for cue matching."""
    lang = language if language in ("zh", "en") else (main_language(text) or "en")
    return lang, to_simplified(text).lower().strip()


def sentences(text: str) -> list[str]:
    """Split on sentence punctuation, keeping each sentence's terminator."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def contains_cue(text: str, cue: str, lang: str) -> bool:
    if lang == "zh" or not cue[:1].isalpha():
        return cue in text
    return re.search(r"\b" + re.escape(cue), text) is not None


def _en_words(clause: str) -> list[str]:
    words = re.findall(r"[a-z']+", clause)
    while words and words[0] in _LEADING_FILLERS and len(words) > 1:
        words = words[1:]
    return words


def _starts_with(words: list[str], starts: tuple[str, ...]) -> bool:
    joined = " ".join(words)
    return any(joined == s or joined.startswith(s + " ") for s in starts)


def _asks_nothing(sentence: str, cues: LanguageCues) -> bool:
    """A greeting ("最近怎么样？", "How are you?") or a statement that only ends in a tag
    ("这个月交货，对吧？", "You run SAP, right?"): said as a question, asking nothing."""
    body = _CLAUSE_SPLIT.split(sentence.rstrip("?？。.!！ "))
    clauses = [c.strip(" ，,") for c in body if c.strip(" ，,")]
    if not clauses:
        return False
    if any(clauses[-1].endswith(g) for g in cues.greetings):
        return all(  # what comes before is a name or more greeting ("张总，好久不见，")
            (len(c) <= 12 or any(g in c for g in cues.greetings))
            and not any(w in c for w in cues.interrogatives)
            for c in clauses[:-1]
        )
    return len(clauses) > 1 and clauses[-1] in cues.tag_only


def _is_question(sentence: str, lang: str, cues: LanguageCues) -> bool:
    if _asks_nothing(sentence, cues):
        return False
    if sentence.endswith(("?", "？")) or any(sentence.endswith(t) for t in cues.tags):
        return True
    body = sentence.rstrip("。.!！；; ")
    if lang == "zh":
        last = _CLAUSE_SPLIT.split(body)[-1]
        if any(last.endswith(p) for p in cues.end_particles):
            return True
        # speech recognition often ends a Chinese question with "。" or nothing
        if any(w in last for w in cues.interrogatives):
            return True
        # "看能不能..." is "see whether...", a statement
        return any(w in last and "看" + w not in last for w in cues.closed_words)
    words = _en_words(body)
    ends_open = not sentence.endswith((".", "!"))
    return ends_open and _starts_with(words, cues.open_starts + cues.closed_starts)


def _is_open(question: str, lang: str, cues: LanguageCues) -> bool:
    clauses = [c for c in _CLAUSE_SPLIT.split(question.rstrip("?？。. ")) if c.strip()]
    if not clauses:
        return False
    if lang == "zh":
        return _is_open_zh((clauses[-1], question), cues)
    for clause in (clauses[-1], clauses[0]):
        words = _en_words(clause)
        if _starts_with(words, cues.open_starts):
            return True
        if _starts_with(words, cues.closed_starts):
            return False
    return any(contains_cue(question, w, lang) for w in cues.open_words)


def _is_open_zh(clauses: tuple[str, str], cues: LanguageCues) -> bool:
    """The last clause decides, else the whole question: an invitation or a question word is
    open; a yes/no word or a final 吗, 么 or 吧 is closed."""
    for clause in clauses:
        if any(w in clause for w in cues.open_invites):
            return True
        if any(w in clause for w in cues.closed_words):
            return False
        if any(w in clause for w in cues.open_words):
            return True
        if clause.endswith(("吗", "么", "吧")):
            return False
    return False


def _spin(question: str, lang: str, cues: LanguageCues) -> Spin:
    counts = {
        name: sum(contains_cue(question, cue, lang) for cue in cues.spin.get(name, ()))
        for name in _SPIN_ORDER
    }
    best = max(_SPIN_ORDER, key=lambda name: (counts[name], -_SPIN_ORDER.index(name)))
    return best if counts[best] > 0 else "situation"


def find_question(text: str, language: str | None, cues: QuestionCues | None = None) -> str | None:
    """The last question sentence of an utterance (normalised), or None when it asks nothing."""
    cue_set = cues or load_cues()
    lang, norm = normalize(text, language)
    lang_cues = cue_set.languages.get(lang) or cue_set.languages["en"]
    found = [s for s in sentences(norm) if _is_question(s, lang, lang_cues)]
    return found[-1] if found else None


def classify_question(
    text: str, language: str | None, *, cues: QuestionCues | None = None
) -> QuestionType | None:
    """SPIN type and open/closed of the last question in an utterance; None if it asks nothing."""
    cue_set = cues or load_cues()
    question = find_question(text, language, cue_set)
    if question is None:
        return None
    lang, _ = normalize(text, language)
    lang_cues = cue_set.languages.get(lang) or cue_set.languages["en"]
    return QuestionType(
        spin=_spin(question, lang, lang_cues), open=_is_open(question, lang, lang_cues)
    )
