"""The label set (need/pain topics, sentiments, risks) from prompts/labels.yaml, validated."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from nlp.vocabulary import Sentiment

KINDS = ("need", "pain")
SENTIMENTS = tuple(Sentiment)
SHIPPED_PROMPTS = Path(__file__).resolve().parents[1] / "prompts"  # the label set in this repo
_TOPIC_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_RISK_RE = re.compile(r"^risk\.[a-z][a-z0-9_]*$")


class LabelFileError(ValueError):
    """prompts/labels.yaml (or an examples file) is malformed."""


class WeightsMissing(RuntimeError):
    """A trained model's weights file is absent; `visitlens train` builds it. Never trained
    inside a request or a step: that would take minutes and differ per process."""

    def __init__(self, what: str, path: Path):
        super().__init__(
            f"The {what} weights are missing ({path}). Run `visitlens train` to build them "
            "from the examples in prompts/."
        )


class UnknownLabelError(ValueError):
    """Label ids outside the label set; the message names the valid ids."""

    def __init__(self, unknown: list[str], valid: Iterable[str]):
        self.unknown = unknown
        self.valid = sorted(valid)
        super().__init__(
            f"Unknown label id(s): {', '.join(unknown)}. Valid ids: {', '.join(self.valid)}."
        )


@dataclass(frozen=True)
class LabelInfo:
    id: str  # "need.price", "pain.delivery", "risk.churn"
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str


@dataclass(frozen=True)
class LabelSet:
    topics: tuple[str, ...]
    need_pain: tuple[LabelInfo, ...]  # need.<topic> then pain.<topic>, topic order of the file
    risks: tuple[LabelInfo, ...]
    sentiments: tuple[str, ...]

    @property
    def need_pain_ids(self) -> tuple[str, ...]:
        return tuple(label.id for label in self.need_pain)

    @property
    def risk_ids(self) -> tuple[str, ...]:
        return tuple(label.id for label in self.risks)

    @property
    def all_ids(self) -> tuple[str, ...]:
        return self.need_pain_ids + self.risk_ids

    def info(self, label_id: str) -> LabelInfo:
        for label in self.need_pain + self.risks:
            if label.id == label_id:
                return label
        raise UnknownLabelError([label_id], self.all_ids)

    def validate(self, label_ids: Iterable[str], *, allow_risk: bool = True) -> list[str]:
        """The ids deduplicated in input order; UnknownLabelError for any unknown id."""
        valid = set(self.all_ids if allow_risk else self.need_pain_ids)
        ids = list(dict.fromkeys(label_ids))
        unknown = [i for i in ids if i not in valid]
        if unknown:
            raise UnknownLabelError(unknown, valid)
        return ids


def _text(node: Mapping[str, Any], key: str, where: str) -> str:
    value = node.get(key)
    if not isinstance(value, str) or not value.strip():
        raise LabelFileError(f"{where}: missing text field '{key}'")
    return value.strip()


def parse_labels(data: Any) -> LabelSet:
    """Build a LabelSet from the parsed YAML document, checking every field."""
    topics, kinds, risks = _sections(data)
    return LabelSet(
        topics=tuple(str(t) for t in topics),
        need_pain=_need_pain(topics, kinds),
        risks=_risks(risks),
        sentiments=SENTIMENTS,
    )


def _sections(data: Any) -> tuple[Mapping[Any, Any], Mapping[Any, Any], Mapping[Any, Any]]:
    """The document's topics, kinds and risks, once its top level is as expected."""
    if not isinstance(data, Mapping):
        raise LabelFileError("labels file: expected a mapping at the top level")
    topics = data.get("topics")
    kinds = data.get("kinds")
    risks = data.get("risks")
    if not isinstance(topics, Mapping) or not topics:
        raise LabelFileError("labels file: 'topics' must be a non-empty mapping")
    if not isinstance(kinds, Mapping) or set(kinds) != set(KINDS):
        raise LabelFileError(f"labels file: 'kinds' must define exactly {', '.join(KINDS)}")
    if not isinstance(risks, Mapping):
        raise LabelFileError("labels file: 'risks' must be a mapping")
    sentiments = data.get("sentiments")
    if not isinstance(sentiments, Mapping) or tuple(sentiments) != SENTIMENTS:
        raise LabelFileError(f"labels file: 'sentiments' must be {', '.join(SENTIMENTS)}")
    return topics, kinds, risks


def _need_pain(topics: Mapping[Any, Any], kinds: Mapping[Any, Any]) -> tuple[LabelInfo, ...]:
    """One label per kind (need, pain) and topic, e.g. pain.price."""
    need_pain: list[LabelInfo] = []
    for kind in KINDS:
        k = kinds[kind]
        if not isinstance(k, Mapping):
            raise LabelFileError(f"kinds.{kind}: expected a mapping")
        for topic, t in topics.items():
            if not isinstance(topic, str) or not _TOPIC_RE.match(topic):
                raise LabelFileError(f"topics: invalid topic id {topic!r}")
            if not isinstance(t, Mapping):
                raise LabelFileError(f"topics.{topic}: expected a mapping")
            where = f"topics.{topic}"
            need_pain.append(
                LabelInfo(
                    id=f"{kind}.{topic}",
                    name_zh=f"{_text(t, 'zh', where)}{_text(k, 'zh', kind)}",
                    name_en=f"{_text(k, 'en', kind)}: {_text(t, 'en', where)}",
                    description_zh=_text(k, "description_zh", kind)
                    + "："
                    + _text(t, "covers_zh", where),
                    description_en=_text(k, "description_en", kind)
                    + ": "
                    + _text(t, "covers_en", where),
                )
            )
    return tuple(need_pain)


def _risks(risks: Mapping[Any, Any]) -> tuple[LabelInfo, ...]:
    risk_infos: list[LabelInfo] = []
    for risk_id, r in risks.items():
        if not isinstance(risk_id, str) or not _RISK_RE.match(risk_id):
            raise LabelFileError(f"risks: invalid risk id {risk_id!r} (expected risk.<name>)")
        if not isinstance(r, Mapping):
            raise LabelFileError(f"risks.{risk_id}: expected a mapping")
        where = f"risks.{risk_id}"
        risk_infos.append(
            LabelInfo(
                id=risk_id,
                name_zh=_text(r, "zh", where),
                name_en=_text(r, "en", where),
                description_zh=_text(r, "description_zh", where),
                description_en=_text(r, "description_en", where),
            )
        )
    return tuple(risk_infos)


@cache
def load_labels(prompts_dir: Path) -> LabelSet:
    """Read and validate prompts_dir/labels.yaml."""
    path = prompts_dir / "labels.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise LabelFileError(f"{path}: not valid YAML ({exc})") from exc
    return parse_labels(data)


def topics(prompts_dir: Path = SHIPPED_PROMPTS) -> tuple[str, ...]:
    """The topic ids of prompts_dir/labels.yaml, in the file's order (read once per process)."""
    return load_labels(prompts_dir).topics


def label_ids(prompts_dir: Path = SHIPPED_PROMPTS) -> tuple[str, ...]:
    """Every label id of prompts_dir/labels.yaml: need.<topic>, pain.<topic>, then the risks."""
    return load_labels(prompts_dir).all_ids
