"""An optional OpenAI-compatible chat endpoint: visit summaries and a second opinion on labels."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from string import Template
from typing import Any, Literal

import httpx
import yaml

from nlp.classify import LabelScore
from nlp.labels import SENTIMENTS, LabelSet
from nlp.vocabulary import Role

Reason = Literal["unreachable", "timeout", "http_error", "bad_answer", "bad_prompt"]
CONFIDENT = 0.8  # a second-opinion label at least this sure is merged in "merge" mode
BARE_ID_CONFIDENCE = 0.6  # an id given without a confidence is shown, never merged
MAX_TRANSCRIPT_CHARS = 8000  # about 4-8k tokens: fits the context of small local models
MAX_UTTERANCE_CHARS = 500
MAX_SUMMARY_CHARS = 2000
BATCH_ITEMS = 30
BATCH_CHARS = 4000

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)


class LLMError(Exception):
    """The chat endpoint could not be used; reason says why, the message for whom."""

    def __init__(self, reason: Reason, message: str):
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class ChatEndpoint:
    url: str  # base URL ending in /v1 (or the full .../chat/completions)
    model: str = ""  # empty: the server's default model (llama.cpp); vLLM and Ollama need one
    api_key: str | None = None  # sent as "Authorization: Bearer <key>"
    timeout_s: float = 60.0

    def path(self, tail: str) -> str:
        base = self.url.rstrip("/").removesuffix("/chat/completions")
        return f"{base}/{tail}"


@dataclass(frozen=True)
class PromptTemplate:
    system: str
    user: str


@dataclass(frozen=True)
class SecondOpinion:
    """The endpoint's labels for one utterance; only ids of the label set."""

    labels: list[LabelScore] = field(default_factory=list)  # need.* / pain.*
    risk: list[LabelScore] = field(default_factory=list)
    sentiment: str | None = None


Message = dict[str, str]


@cache
def load_prompt(path: Path, language: str | None) -> PromptTemplate:
    """The zh or en template of prompts/llm/<name>.yaml (zh only when language is zh)."""
    key = "zh" if language == "zh" else "en"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise LLMError("bad_prompt", f"{path} cannot be read ({e.__class__.__name__}).") from e
    node = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(node, Mapping) or not all(
        isinstance(node.get(k), str) for k in ("system", "user")
    ):
        raise LLMError("bad_prompt", f"{path}: '{key}' needs text fields 'system' and 'user'.")
    return PromptTemplate(system=node["system"].strip(), user=node["user"].strip())


def _messages(template: PromptTemplate, **values: str) -> list[Message]:
    return [
        {"role": "system", "content": template.system},
        {"role": "user", "content": Template(template.user).safe_substitute(values)},
    ]


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def transcript_text(
    utterances: Sequence[tuple[str | None, str]], language: str | None, max_chars: int
) -> str:
    """'Role: text' lines, at most max_chars: the start and the end when longer (the end holds
    the agreed follow-ups), with a marker where lines were left out."""
    names: dict[str, str] = {Role.REP: "销售", Role.CUSTOMER: "客户"} if language == "zh" else {}
    names = names or {Role.REP: "Rep", Role.CUSTOMER: "Customer"}
    other = "其他" if language == "zh" else "Speaker"
    lines = [
        f"{names.get(role or '', other)}: {_clip(text, MAX_UTTERANCE_CHARS)}"
        for role, text in utterances
        if text.strip()
    ]
    if sum(len(x) + 1 for x in lines) <= max_chars:
        return "\n".join(lines)
    head_budget, tail_budget = max_chars * 2 // 3, max_chars // 3
    head: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in head) + len(line) + 1 > head_budget:
            break
        head.append(line)
    tail: list[str] = []
    for line in reversed(lines[len(head) :]):
        if sum(len(x) + 1 for x in tail) + len(line) + 1 > tail_budget:
            break
        tail.insert(0, line)
    left_out = len(lines) - len(head) - len(tail)
    marker = f"[… {left_out} 句省略 …]" if language == "zh" else f"[… {left_out} lines left out …]"
    return "\n".join([*head, marker, *tail])


def summary_messages(
    template: PromptTemplate,
    utterances: Sequence[tuple[str | None, str]],
    language: str | None,
    *,
    title: str = "",
    customer: str = "",
    visit_date: str = "",
    max_chars: int = MAX_TRANSCRIPT_CHARS,
) -> list[Message]:
    return _messages(
        template,
        transcript=transcript_text(utterances, language, max_chars),
        title=title or "-",
        customer=customer or "-",
        visit_date=visit_date or "-",
    )


def label_lines(labels: LabelSet, language: str | None) -> str:
    zh = language == "zh"
    return "\n".join(
        f"{x.id}: {x.description_zh if zh else x.description_en}"
        for x in (*labels.need_pain, *labels.risks)
    )


def label_messages(
    template: PromptTemplate,
    items: Sequence[tuple[int, str]],
    labels: LabelSet,
    language: str | None,
) -> list[Message]:
    """Messages asking for the labels of (n, text) utterances."""
    return _messages(
        template,
        labels=label_lines(labels, language),
        utterances="\n".join(f"[{n}] {_clip(text, MAX_UTTERANCE_CHARS)}" for n, text in items),
    )


def batches(
    items: Sequence[tuple[int, str]], max_items: int = BATCH_ITEMS, max_chars: int = BATCH_CHARS
) -> Iterator[list[tuple[int, str]]]:
    """Consecutive runs of at most max_items utterances and about max_chars characters."""
    batch: list[tuple[int, str]] = []
    size = 0
    for n, text in items:
        length = min(len(text), MAX_UTTERANCE_CHARS)
        if batch and (len(batch) >= max_items or size + length > max_chars):
            yield batch
            batch, size = [], 0
        batch.append((n, text))
        size += length
    if batch:
        yield batch


def chat(
    endpoint: ChatEndpoint,
    messages: list[Message],
    *,
    max_tokens: int = 1024,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """The assistant's answer text; LLMError when the endpoint is unreachable, too slow, refuses,
    or answers something that is not a chat completion."""
    body: dict[str, Any] = {
        "messages": messages,
        "temperature": 0,
        "max_tokens": max_tokens,
        "stream": False,
    }
    if endpoint.model:
        body["model"] = endpoint.model
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    url = endpoint.path("chat/completions")
    try:
        with httpx.Client(timeout=endpoint.timeout_s, transport=transport) as client:
            res = client.post(url, json=body, headers=headers)
    except httpx.TimeoutException as e:
        raise LLMError("timeout", f"No answer from {url} within {endpoint.timeout_s:g} s.") from e
    except httpx.HTTPError as e:
        raise LLMError("unreachable", f"{url} is unreachable ({e.__class__.__name__}).") from e
    if res.status_code >= 400:
        raise LLMError("http_error", f"{url} answered HTTP {res.status_code}.")
    try:
        content = res.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise LLMError("bad_answer", f"{url} did not answer with a chat completion.") from e
    if not isinstance(content, str):
        raise LLMError("bad_answer", f"{url} answered without message text.")
    return content


def probe(endpoint: ChatEndpoint, *, transport: httpx.BaseTransport | None = None) -> None:
    """Cheap reachability check (GET /models, which vLLM, llama.cpp and Ollama serve)."""
    url = endpoint.path("models")
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    try:
        with httpx.Client(timeout=min(endpoint.timeout_s, 3.0), transport=transport) as client:
            res = client.get(url, headers=headers)
    except httpx.TimeoutException as e:
        raise LLMError("timeout", f"No answer from {url}.") from e
    except httpx.HTTPError as e:
        raise LLMError("unreachable", f"{url} is unreachable ({e.__class__.__name__}).") from e
    if res.status_code >= 400:
        raise LLMError("http_error", f"{url} answered HTTP {res.status_code}.")


def _visible(answer: str) -> str:
    """The answer without reasoning blocks (<think>…</think> of reasoning models)."""
    return _THINK.sub("", answer).strip()


def parse_summary(answer: str, max_chars: int = MAX_SUMMARY_CHARS) -> str:
    text = _visible(answer)
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    text = re.sub(r"^\s*(summary|摘要|总结)\s*[:：]\s*", "", text.strip(), flags=re.IGNORECASE)
    text = text.strip().strip('"').strip()
    if not text:
        raise LLMError("bad_answer", "The endpoint answered with an empty summary.")
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def find_json(answer: str) -> Any:
    """The first JSON object or array in the answer: inside code fences, or amid prose."""
    text = _visible(answer)
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for m in re.finditer(r"[\[{]", candidate):
            try:
                value, _ = decoder.raw_decode(candidate, m.start())
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict | list):
                return value
    raise LLMError("bad_answer", "The endpoint's answer holds no JSON.")


def _scores(node: Any, valid: set[str]) -> list[LabelScore]:
    """LabelScores from ["id", ...] or [{"id", "confidence"}, ...]; unknown ids dropped."""
    out: dict[str, float] = {}
    for x in node if isinstance(node, list) else []:
        label_id, confidence = x, BARE_ID_CONFIDENCE
        if isinstance(x, Mapping):
            label_id = x.get("id", x.get("label"))
            raw = x.get("confidence", x.get("score", BARE_ID_CONFIDENCE))
            try:
                confidence = min(max(float(raw), 0.0), 1.0)
            except (TypeError, ValueError):
                confidence = BARE_ID_CONFIDENCE
            if not math.isfinite(confidence):
                confidence = BARE_ID_CONFIDENCE
        if isinstance(label_id, str) and label_id.strip() in valid:
            out[label_id.strip()] = max(confidence, out.get(label_id.strip(), 0.0))
    return [LabelScore(k, v) for k, v in sorted(out.items(), key=lambda kv: -kv[1])]


def parse_labels(answer: str, labels: LabelSet, numbers: Sequence[int]) -> dict[int, SecondOpinion]:
    """Second opinions by utterance number, from an answer like
    {"items": [{"n": 0, "labels": [...], "risk": [...], "sentiment": "..."}]}; items for numbers
    not asked about and ids outside the label set are dropped."""
    data = find_json(answer)
    if isinstance(data, Mapping):
        data = next(
            (data[k] for k in ("items", "results", "utterances") if isinstance(data.get(k), list)),
            [data] if "labels" in data else [],
        )
    wanted = set(numbers)
    need_pain, risks = set(labels.need_pain_ids), set(labels.risk_ids)
    out: dict[int, SecondOpinion] = {}
    for position, item in enumerate(data):
        if not isinstance(item, Mapping):
            continue
        raw_n = item.get("n", item.get("i", item.get("idx", item.get("id"))))
        try:
            n = int(raw_n)
        except (TypeError, ValueError, OverflowError):
            n = numbers[position] if position < len(numbers) else -1
        if n not in wanted:
            continue
        every = _scores(item.get("labels"), need_pain | risks)
        sentiment = item.get("sentiment")
        out[n] = SecondOpinion(
            labels=[x for x in every if x.id in need_pain],
            risk=_scores(item.get("risk"), risks) or [x for x in every if x.id in risks],
            sentiment=sentiment if sentiment in SENTIMENTS else None,
        )
    if not out and numbers:
        raise LLMError("bad_answer", "The endpoint's answer labels none of the utterances.")
    return out


def summarize(
    endpoint: ChatEndpoint,
    template: PromptTemplate,
    utterances: Sequence[tuple[str | None, str]],
    language: str | None,
    *,
    title: str = "",
    customer: str = "",
    visit_date: str = "",
    transport: httpx.BaseTransport | None = None,
) -> str:
    """An abstractive summary of (role, text) utterances."""
    messages = summary_messages(
        template, utterances, language, title=title, customer=customer, visit_date=visit_date
    )
    return parse_summary(chat(endpoint, messages, max_tokens=600, transport=transport))


@dataclass(frozen=True)
class LabelRun:
    opinions: dict[int, SecondOpinion]
    failed_batches: int
    error: LLMError | None  # the last failure, if any
    seconds: float


NO_RUN = LabelRun({}, 0, None, 0.0)


def label(
    endpoint: ChatEndpoint,
    template: PromptTemplate,
    items: Sequence[tuple[int, str]],
    labels: LabelSet,
    language: str | None,
    *,
    transport: httpx.BaseTransport | None = None,
) -> LabelRun:
    """Second opinions on (n, text) utterances, in batches; a batch answered badly is skipped,
    an unreachable or silent endpoint ends the run (later batches would wait as long)."""
    started = time.monotonic()
    opinions: dict[int, SecondOpinion] = {}
    failed, error = 0, None
    for batch in batches(items):
        messages = label_messages(template, batch, labels, language)
        try:
            answer = chat(
                endpoint, messages, max_tokens=120 * len(batch) + 200, transport=transport
            )
            opinions.update(parse_labels(answer, labels, [n for n, _ in batch]))
        except LLMError as e:
            failed, error = failed + 1, e
            if e.reason in ("unreachable", "timeout"):
                break
    return LabelRun(opinions, failed, error, round(time.monotonic() - started, 3))


def answer_question(
    endpoint: ChatEndpoint,
    prompts_dir: Path,
    *,
    question: str,
    quotes: Sequence[str],
    language: str | None,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """A written answer citing the numbered quotes ([1], [2], ...); LLMError when the endpoint
    fails or answers nothing."""
    template = load_prompt(prompts_dir / "llm" / "ask.yaml", language)
    lines = "\n".join(f"[{n}] {_clip(q, 400)}" for n, q in enumerate(quotes, start=1))
    messages = _messages(template, question=_clip(question, 2000), quotes=lines)
    text = _visible(chat(endpoint, messages, max_tokens=600, transport=transport)).strip()
    if not text:
        raise LLMError("bad_answer", "The endpoint answered with no text.")
    return text
