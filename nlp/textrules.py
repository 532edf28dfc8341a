"""Keyword, negation and cue rules from prompts/rules.yaml and the features they give a text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from nlp.labels import LabelFileError

_MAX_RULE_CHARS = 4000  # rules look at the start of a long text only, keeping time bounded
_NEG_WINDOW = 16  # characters after a keyword (twice that before) where a negation counts
_CLAUSE_END = re.compile(r"[，。,.;；!！?？、]")
CUE_NAMES = ("need", "pain", "positive", "negative", "sarcasm")

_BACKCHANNEL = re.compile(  # matched against the text with spaces and punctuation removed
    r"^(?:嗯+|啊+|哦+|噢+|对+|是+|好+|行+|没错|是的|对的|好的|明白|了解|可以|你接着说|您接着说|你说|"
    r"您说|接着说|继续|了|吧|呢|呀|哈|就是这个意思|ok|okay|yes|yeah|yep|right|sure|m+h+m+|"
    r"mm+hmm|uhhuh|gotit|isee|exactly|goon|alright|fine|thatsright|makessense|pleasecontinue|"
    r"continue)+$"
)


def _phrase_regex(zh: Sequence[str], en: Sequence[str]) -> re.Pattern[str] | None:
    parts = [re.escape(k.lower()) for k in zh if k]
    parts += [r"(?<![a-z])" + re.escape(k.lower()) for k in en if k]
    if not parts:
        return None
    parts.sort(key=len, reverse=True)
    return re.compile("|".join(parts))


@dataclass(frozen=True)
class Rules:
    topics: tuple[str, ...]
    topic_res: tuple[re.Pattern[str] | None, ...]
    neg_after: re.Pattern[str] | None
    neg_before: re.Pattern[str] | None
    cue_res: tuple[re.Pattern[str] | None, ...]  # in CUE_NAMES order
    risk_ids: tuple[str, ...]
    risk_res: tuple[re.Pattern[str] | None, ...]

    @property
    def n_features(self) -> int:
        return 2 * len(self.topics) + len(CUE_NAMES) + len(self.risk_ids) + 4

    @property
    def risk_slice(self) -> slice:
        """Where the risk keyword hits sit in `rule_features`, one column per risk id."""
        start = 2 * len(self.topics) + len(CUE_NAMES)
        return slice(start, start + len(self.risk_ids))


def _words(node: Any, key: str, where: str) -> list[str]:
    if node is None:
        return []
    if not isinstance(node, Mapping):
        raise LabelFileError(f"rules file: {where} must be a mapping")
    value = node.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LabelFileError(f"rules file: {where}.{key} must be a list of strings")
    return value


def parse_rules(data: Any, topics: Sequence[str], risk_ids: Sequence[str]) -> Rules:
    """Compile rules for the given topics and risks; a topic without rules has no keyword hits."""
    if not isinstance(data, Mapping):
        raise LabelFileError("rules file: expected a mapping at the top level")
    topic_rules = data.get("topics") or {}
    unknown = sorted(set(topic_rules) - set(topics))
    if unknown:
        raise LabelFileError(f"rules file: unknown topics {', '.join(unknown)}")
    neg = data.get("negation") or {}
    cues = data.get("cues") or {}
    risks = data.get("risks") or {}
    unknown = sorted(set(risks) - set(risk_ids))
    if unknown:
        raise LabelFileError(f"rules file: unknown risks {', '.join(unknown)}")
    return Rules(
        topics=tuple(topics),
        topic_res=tuple(
            _phrase_regex(_words(topic_rules.get(t), "zh", t), _words(topic_rules.get(t), "en", t))
            for t in topics
        ),
        neg_after=_phrase_regex(
            _words(neg, "zh_after", "negation"), _words(neg, "en_after", "negation")
        ),
        neg_before=_phrase_regex([], _words(neg, "en_before", "negation")),
        cue_res=tuple(
            _phrase_regex(_words(cues.get(c), "zh", c), _words(cues.get(c), "en", c))
            for c in CUE_NAMES
        ),
        risk_ids=tuple(risk_ids),
        risk_res=tuple(
            _phrase_regex(_words(risks.get(r), "zh", r), _words(risks.get(r), "en", r))
            for r in risk_ids
        ),
    )


@cache
def load_rules(prompts_dir: Path, topics: tuple[str, ...], risk_ids: tuple[str, ...]) -> Rules:
    """Read prompts_dir/rules.yaml (missing file: no rules)."""
    path = prompts_dir / "rules.yaml"
    data: Any = {}
    if path.exists():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise LabelFileError(f"{path}: not valid YAML ({exc})") from exc
    return parse_rules(data, topics, risk_ids)


def normalize(text: str) -> str:
    """NFKC, lower case, bounded length: the form every rule matches against."""
    return unicodedata.normalize("NFKC", text[:_MAX_RULE_CHARS]).lower().strip()


def is_backchannel(text: str) -> bool:
    """True for short acknowledgements with no content ("嗯，对", "OK, go on")."""
    core = re.sub(r"[\s\W_]+", "", normalize(text))
    return len(core) <= 12 and bool(_BACKCHANNEL.match(core))


def _topic_hits(rules: Rules, text: str) -> tuple[list[int], list[int]]:
    plain = [0] * len(rules.topics)
    negated = [0] * len(rules.topics)
    for i, rx in enumerate(rules.topic_res):
        if rx is None:
            continue
        for m in rx.finditer(text):
            after = _CLAUSE_END.split(text[m.end() : m.end() + _NEG_WINDOW], maxsplit=1)[0]
            before = _CLAUSE_END.split(text[max(0, m.start() - _NEG_WINDOW * 2) : m.start()])[-1]
            neg = rules.neg_after is not None and rules.neg_after.search(after)
            neg = neg or (rules.neg_before is not None and rules.neg_before.search(before))
            if neg:
                negated[i] += 1
            else:
                plain[i] += 1
    return plain, negated


def rule_features(rules: Rules, text: str) -> npt.NDArray[np.float32]:
    """Keyword, negation and cue hits of one text, each scaled into [0, 1]."""
    t = normalize(text)
    plain, negated = _topic_hits(rules, t)
    cues = [len(rx.findall(t)) if rx is not None else 0 for rx in rules.cue_res]
    risks = [len(rx.findall(t)) if rx is not None else 0 for rx in rules.risk_res]
    n_chars = len(re.sub(r"\s+", "", t))
    feats = [min(h, 2) / 2 for h in plain] + [min(h, 2) / 2 for h in negated]
    feats += [min(c, 3) / 3 for c in cues] + [min(r, 2) / 2 for r in risks]
    feats += [
        float("?" in t or "？" in t or "吗" in t),
        float("!" in t or "！" in t),
        float(is_backchannel(t)),
        min(n_chars, 120) / 120,
    ]
    return np.asarray(feats, dtype=np.float32)
