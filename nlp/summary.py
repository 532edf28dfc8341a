"""A short data-driven visit summary: top pains and needs in the customer's words, mood, risk,
follow-ups."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

from nlp.actions import ActionItem
from nlp.classify import TextAnalysis
from nlp.labels import LabelSet
from nlp.vocabulary import Role

_MAX_ACTIONS = 3  # follow-ups named in the summary; the analysis lists them all


def _name(label_id: str, labels: LabelSet | None, zh: bool) -> str:
    """Display name; a need/pain label is named by its topic (the sentence says which kind)."""
    if labels is None or label_id not in labels.all_ids:
        return label_id
    if label_id.startswith(("need.", "pain.")):
        topic = label_id.split(".", 1)[1]
        need, pain = labels.info(f"need.{topic}"), labels.info(f"pain.{topic}")
        if zh:
            return os.path.commonprefix([need.name_zh, pain.name_zh]) or need.name_zh
        return need.name_en.split(": ", 1)[-1]
    info = labels.info(label_id)
    return info.name_zh if zh else info.name_en


def _join(names: list[str], zh: bool) -> str:
    if zh:
        return "、".join(names)
    return "; ".join(names)  # topic names contain "and" themselves


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _key_quote(
    customer: Sequence[tuple[str, TextAnalysis]], label_id: str | None, zh: bool
) -> str | None:
    """The customer's own words that carry label_id most confidently."""
    if label_id is None:
        return None
    best = max(
        ((s.confidence, text) for text, a in customer for s in a.labels if s.id == label_id),
        default=None,
    )
    return None if best is None else _clip(best[1], 60 if zh else 140)


def _follow_ups(actions: Sequence[ActionItem], zh: bool) -> str:
    """Who promised what by when, for the first _MAX_ACTIONS items."""
    items = []
    for a in actions[:_MAX_ACTIONS]:
        if zh:
            who = "销售" if a.owner == Role.REP else "客户"
            due = f"（{a.due.month}月{a.due.day}日前）" if a.due else ""
            items.append(f"{who}：{_clip(a.text, 40)}{due}")
        else:
            due = f" (by {a.due.isoformat()})" if a.due else ""
            items.append(f"{a.owner}: {_clip(a.text, 80)}{due}")
    more = len(actions) - len(items)
    if zh:
        tail = f"等{len(actions)}项" if more > 0 else ""
        return f"待办{tail}：" + "；".join(items) + "。"
    tail = f" (+{more} more)" if more > 0 else ""
    return "Follow-ups: " + "; ".join(items) + tail + "."


def summarize(
    utterances: Sequence[tuple[str | None, str, float | None]],
    analyses: Sequence[TextAnalysis],
    language: str | None,
    actions: Sequence[ActionItem] = (),
    labels: LabelSet | None = None,
) -> str:
    """Summary of a visit from its (role, text, start_s) utterances and their analyses: top
    pains and needs with the customer's key words, mood, risk, and who promised what by when."""
    zh = language == "zh"
    customer = [
        (text, a)
        for (role, text, _), a in zip(utterances, analyses, strict=True)
        if role != Role.REP
    ]
    counts: Counter[str] = Counter(s.id for _, a in customer for s in a.labels)
    pains = [lid for lid, _ in counts.most_common() if lid.startswith("pain.")][:3]
    needs = [lid for lid, _ in counts.most_common() if lid.startswith("need.")][:3]
    scored = [a.sentiment_score for _, a in customer if not a.unsupported]
    mood = sum(scored) / len(scored) if scored else 0.0
    risks = sorted({s.id for _, a in customer for s in a.risk})
    top = pains or needs
    quote = _key_quote(customer, top[0] if top else None, zh)
    sentences = (_sentences_zh if zh else _sentences_en)(pains, needs, mood, quote, risks, labels)
    if actions:
        sentences.append(_follow_ups(actions, zh))
    return " ".join(sentences) if not zh else "".join(sentences)


def _sentences_zh(
    pains: list[str],
    needs: list[str],
    mood: float,
    quote: str | None,
    risks: list[str],
    labels: LabelSet | None,
) -> list[str]:
    parts = []
    if pains:
        parts.append(f"客户主要痛点：{_join([_name(p, labels, True) for p in pains], True)}")
    if needs:
        parts.append(f"主要需求：{_join([_name(n, labels, True) for n in needs], True)}")
    mood_word = "正面" if mood > 0.2 else "负面" if mood < -0.2 else "中性"
    sentences = [
        ("；".join(parts) + "，" if parts else "") + f"整体情绪{mood_word}（{mood:+.2f}）。"
    ]
    if quote:
        sentences.append(f"客户原话：“{quote}”。")
    if risks:
        sentences.append(
            f"风险提示：{_join([_name(r, labels, True) for r in risks], True)}，建议尽快跟进。"
        )
    return sentences


def _sentences_en(
    pains: list[str],
    needs: list[str],
    mood: float,
    quote: str | None,
    risks: list[str],
    labels: LabelSet | None,
) -> list[str]:
    parts = []
    if pains:
        parts.append(f"Main pain points: {_join([_name(p, labels, False) for p in pains], False)}")
    if needs:
        parts.append(f"main needs: {_join([_name(n, labels, False) for n in needs], False)}")
    mood_word = "positive" if mood > 0.2 else "negative" if mood < -0.2 else "neutral"
    lead = "; ".join(parts) + ". " if parts else ""
    sentences = [f"{lead}Overall mood {mood_word} ({mood:+.2f})."]
    if quote:
        sentences.append(f'In the customer\'s words: "{quote}"')
    if risks:
        sentences.append(
            f"Risk: {_join([_name(r, labels, False) for r in risks], False)}; follow up soon."
        )
    return sentences
