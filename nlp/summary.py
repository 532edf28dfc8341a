"""A short data-driven visit summary: top pains and needs, mood, risk, follow-ups."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from nlp.actions import ActionItem
from nlp.classify import TextAnalysis
from nlp.labels import LabelSet


def _name(label_id: str, labels: LabelSet | None, zh: bool) -> str:
    if labels is not None:
        for info in labels.need_pain + labels.risks:
            if info.id == label_id:
                return info.name_zh if zh else info.name_en
    return label_id


def _join(names: list[str], zh: bool) -> str:
    if zh:
        return "、".join(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def summarize(
    utterances: Sequence[tuple[str | None, str, float | None]],
    analyses: Sequence[TextAnalysis],
    language: str | None,
    actions: Sequence[ActionItem] = (),
    labels: LabelSet | None = None,
) -> str:
    """Summary of a visit from its (role, text, start_s) utterances and their analyses."""
    zh = language == "zh"
    customer = [a for (role, _, _), a in zip(utterances, analyses, strict=True) if role != "rep"]
    counts: Counter[str] = Counter(s.id for a in customer for s in a.labels)
    pains = [lid for lid, _ in counts.most_common() if lid.startswith("pain.")][:3]
    needs = [lid for lid, _ in counts.most_common() if lid.startswith("need.")][:3]
    scored = [a.sentiment_score for a in customer if not a.unsupported]
    mood = sum(scored) / len(scored) if scored else 0.0
    risks = sorted({s.id for a in customer for s in a.risk})
    sentences: list[str] = []
    if zh:
        parts = []
        if pains:
            parts.append(f"客户主要痛点：{_join([_name(p, labels, zh) for p in pains], zh)}")
        if needs:
            parts.append(f"主要需求：{_join([_name(n, labels, zh) for n in needs], zh)}")
        mood_word = "正面" if mood > 0.2 else "负面" if mood < -0.2 else "中性"
        sentences.append(
            ("；".join(parts) + "，" if parts else "") + f"整体情绪{mood_word}（{mood:+.2f}）。"
        )
        if risks:
            sentences.append(
                f"风险提示：{_join([_name(r, labels, zh) for r in risks], zh)}，建议尽快跟进。"
            )
        if actions:
            dated = sum(a.due is not None for a in actions)
            sentences.append(f"共{len(actions)}项待办（{dated}项有截止日期）。")
    else:
        parts = []
        if pains:
            parts.append(f"Main pain points: {_join([_name(p, labels, zh) for p in pains], zh)}")
        if needs:
            parts.append(f"main needs: {_join([_name(n, labels, zh) for n in needs], zh)}")
        mood_word = "positive" if mood > 0.2 else "negative" if mood < -0.2 else "neutral"
        lead = "; ".join(parts) + ". " if parts else ""
        sentences.append(f"{lead}Overall mood {mood_word} ({mood:+.2f}).")
        if risks:
            sentences.append(
                f"Risk: {_join([_name(r, labels, zh) for r in risks], zh)}; follow up soon."
            )
        if actions:
            dated = sum(a.due is not None for a in actions)
            sentences.append(f"{len(actions)} follow-up item(s), {dated} with a due date.")
    return " ".join(sentences) if not zh else "".join(sentences)
