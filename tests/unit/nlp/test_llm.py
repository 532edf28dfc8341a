"""The optional chat endpoint client: prompts from prompts/llm/, robust answer parsing, errors."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from nlp import llm
from nlp.classify import LabelScore
from nlp.labels import load_labels

PROMPTS = Path(__file__).resolve().parents[3] / "prompts"
LABELS = load_labels(PROMPTS)
ENDPOINT = llm.ChatEndpoint(url="http://llm.test/v1", model="qwen", api_key="k", timeout_s=2)


def completion(content: str) -> dict[str, object]:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


def transport(handler: object) -> httpx.MockTransport:
    return httpx.MockTransport(handler)  # type: ignore[arg-type]  # handler returns a Response


@pytest.mark.parametrize("language", ["zh", "en", None])
def test_prompt_files_fill_every_placeholder(language: str | None) -> None:
    summary = llm.load_prompt(PROMPTS / "llm" / "summary.yaml", language)
    labels = llm.load_prompt(PROMPTS / "llm" / "labels.yaml", language)
    messages = [
        *llm.summary_messages(summary, [("rep", "Hi"), ("customer", "Hello")], language),
        *llm.label_messages(labels, [(0, "Hello")], LABELS, language),
    ]
    assert [m["role"] for m in messages] == ["system", "user", "system", "user"]
    assert not any("$" in m["content"] for m in messages)


def test_label_prompt_lists_every_label_id_and_numbers_the_utterances() -> None:
    template = llm.load_prompt(PROMPTS / "llm" / "labels.yaml", "en")
    user = llm.label_messages(template, [(3, "Shipping is slow."), (7, "ok")], LABELS, "en")[1]
    for label_id in LABELS.all_ids:
        assert f"{label_id}:" in user["content"]
    assert "[3] Shipping is slow." in user["content"] and "[7] ok" in user["content"]


def test_long_transcript_keeps_start_and_end_within_the_budget() -> None:
    lines = [("customer" if i % 2 else "rep", f"line {i} " + "x" * 80) for i in range(500)]
    text = llm.transcript_text(lines, "en", max_chars=4000)
    assert len(text) <= 4100
    assert text.startswith("Rep: line 0 ") and "line 499 " in text
    assert "lines left out" in text


def test_zh_transcript_names_roles_in_chinese() -> None:
    text = llm.transcript_text([("rep", "您好"), ("customer", "交货太慢"), (None, "嗯")], "zh", 100)
    assert text.splitlines() == ["销售: 您好", "客户: 交货太慢", "其他: 嗯"]


def test_batches_are_bounded_in_items_and_characters() -> None:
    items = [(i, "y" * 300) for i in range(100)]
    runs = list(llm.batches(items, max_items=30, max_chars=4000))
    assert [n for run in runs for n, _ in run] == list(range(100))
    assert all(len(run) <= 30 and sum(len(t) for _, t in run) <= 4000 for run in runs)


def test_labels_parse_from_code_fence_with_prose_around() -> None:
    answer = (
        "Sure! Here are the labels:\n```json\n"
        '{"items": [{"n": 3, "labels": [{"id": "pain.delivery", "confidence": 0.92}],'
        ' "risk": [], "sentiment": "negative"}, {"n": 7, "labels": [], "sentiment": "neutral"}]}'
        "\n```\nLet me know if you need more."
    )
    out = llm.parse_labels(answer, LABELS, [3, 7])
    assert out[3].labels == [LabelScore("pain.delivery", 0.92)]
    assert out[3].sentiment == "negative"
    assert out[7].labels == [] and out[7].risk == []


def test_unknown_ids_unasked_numbers_and_bad_sentiment_are_dropped() -> None:
    answer = json.dumps(
        {
            "items": [
                {
                    "n": 0,
                    "labels": ["need.price", "need.teleportation", {"id": "risk.churn"}, 5],
                    "sentiment": "furious",
                },
                {"n": 99, "labels": ["pain.quality"]},
            ]
        }
    )
    out = llm.parse_labels(answer, LABELS, [0])
    assert set(out) == {0}
    assert [x.id for x in out[0].labels] == ["need.price"]
    assert out[0].labels[0].confidence == llm.BARE_ID_CONFIDENCE < llm.CONFIDENT
    assert [x.id for x in out[0].risk] == ["risk.churn"]
    assert out[0].sentiment is None


def test_a_bare_list_without_numbers_is_read_in_order() -> None:
    answer = '[{"labels": ["pain.service"]}, {"labels": [{"id": "need.training", "score": "0.9"}]}]'
    out = llm.parse_labels(answer, LABELS, [4, 5])
    assert out[4].labels[0].id == "pain.service"
    assert out[5].labels == [LabelScore("need.training", 0.9)]


def test_reasoning_blocks_are_ignored() -> None:
    answer = '<think>maybe {"n": 1, "labels": ["pain.price"]}</think>{"items": [{"n": 1}]}'
    assert llm.parse_labels(answer, LABELS, [1])[1].labels == []
    assert llm.parse_summary("<think>hmm</think>\nThe customer wants faster delivery.") == (
        "The customer wants faster delivery."
    )


@pytest.mark.parametrize(
    "answer", ["I cannot help with that.", "{not json", '{"items": [{"n": 42}]}', ""]
)
def test_garbage_label_answers_are_bad_answers(answer: str) -> None:
    with pytest.raises(llm.LLMError) as e:
        llm.parse_labels(answer, LABELS, [0, 1])
    assert e.value.reason == "bad_answer"


def test_summary_loses_fences_and_prefix_and_rejects_empty() -> None:
    assert llm.parse_summary("```\nSummary: Late deliveries hurt.\n```") == "Late deliveries hurt."
    assert llm.parse_summary("摘要：客户抱怨交货慢。") == "客户抱怨交货慢。"
    assert len(llm.parse_summary("z" * 10_000)) == llm.MAX_SUMMARY_CHARS
    with pytest.raises(llm.LLMError, match="empty"):
        llm.parse_summary("  <think>only thoughts</think> ")


def test_chat_posts_model_messages_and_bearer_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=completion("hello"))

    messages = [{"role": "user", "content": "hi"}]
    assert llm.chat(ENDPOINT, messages, transport=transport(handler)) == "hello"
    assert str(seen[0].url) == "http://llm.test/v1/chat/completions"
    assert seen[0].headers["authorization"] == "Bearer k"
    body = json.loads(seen[0].content)
    assert body["model"] == "qwen" and body["messages"] == messages and body["temperature"] == 0

    bare = llm.ChatEndpoint(url="http://llm.test/v1/chat/completions/")
    llm.chat(bare, messages, transport=transport(handler))
    assert str(seen[1].url) == "http://llm.test/v1/chat/completions"
    assert "model" not in json.loads(seen[1].content) and "authorization" not in seen[1].headers


def _raises(exc: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return transport(handler)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (_raises(httpx.ReadTimeout("slow")), "timeout"),
        (_raises(httpx.ConnectTimeout("slow")), "timeout"),
        (_raises(httpx.ConnectError("refused")), "unreachable"),
        (transport(lambda r: httpx.Response(500, text="boom")), "http_error"),
        (transport(lambda r: httpx.Response(200, text="<html>proxy</html>")), "bad_answer"),
        (transport(lambda r: httpx.Response(200, json={"choices": []})), "bad_answer"),
        (transport(lambda r: httpx.Response(200, json=completion(None))), "bad_answer"),  # type: ignore[arg-type]  # a null content
    ],
)
def test_chat_failures_have_a_clear_reason(fault: httpx.MockTransport, reason: str) -> None:
    with pytest.raises(llm.LLMError) as e:
        llm.chat(ENDPOINT, [{"role": "user", "content": "hi"}], transport=fault)
    assert e.value.reason == reason
    assert "llm.test" in str(e.value)


def test_label_run_skips_a_bad_batch_and_stops_at_a_timeout() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(200, json=completion("no idea"))
        if len(calls) == 2:
            return httpx.Response(200, json=completion('{"items": [{"n": 30, "labels": []}]}'))
        raise httpx.ReadTimeout("slow")

    template = llm.load_prompt(PROMPTS / "llm" / "labels.yaml", "en")
    items = [(i, "We need it cheaper.") for i in range(150)]
    run = llm.label(ENDPOINT, template, items, LABELS, "en", transport=transport(handler))
    assert len(calls) == 3  # five batches of 30; the timeout ends the run
    assert set(run.opinions) == {30}
    assert run.failed_batches == 2 and run.error is not None and run.error.reason == "timeout"


@pytest.mark.parametrize(
    "answer",
    [
        '{"items": [{"n": Infinity, "labels": [{"id": "pain.price", "confidence": NaN}]}]}',
        '{"items": [{"n": 0, "labels": [{"id": ["pain.price"]},'
        ' {"id": "pain.price", "confidence": [1]}]}]}',
        '{"items": "none"}',
        '[1, "two", null, [3]]',
        '{"labels": "pain.price"}',
        '{"items": [{"n": {"x": 1}, "labels": {"pain.price": 1}}]}',
    ],
)
def test_odd_json_shapes_give_opinions_or_bad_answer_never_a_crash(answer: str) -> None:
    try:
        out = llm.parse_labels(answer, LABELS, [0])
    except llm.LLMError as e:
        assert e.reason == "bad_answer"
        return
    for opinion in out.values():
        assert all(0.0 <= x.confidence <= 1.0 for x in [*opinion.labels, *opinion.risk])
        assert {x.id for x in opinion.labels} <= set(LABELS.need_pain_ids)


@pytest.mark.parametrize("text", ["zh: [unclosed", "en:\n  system: only a system text\n"])
def test_a_malformed_prompt_file_is_a_bad_prompt(tmp_path: Path, text: str) -> None:
    path = tmp_path / "summary.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(llm.LLMError) as e:
        llm.load_prompt(path, "en")
    assert e.value.reason == "bad_prompt"


def test_a_question_is_answered_from_the_numbered_quotes_only() -> None:
    sent: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=completion("<think>hm</think>Two say it is slow [1][2]."))

    answer = llm.answer_question(
        ENDPOINT,
        PROMPTS,
        question="售后慢吗？",
        quotes=["Customer: 售后太慢了", "Customer: 等了三天"],
        language="zh",
        transport=transport(handler),
    )
    assert answer == "Two say it is slow [1][2]."
    user = sent[0]["messages"][1]["content"]  # type: ignore[index]
    assert "[1] Customer: 售后太慢了" in user and "[2] Customer: 等了三天" in user
    assert "$" not in user


def test_an_empty_answer_to_a_question_is_an_error() -> None:
    empty = transport(lambda _: httpx.Response(200, json=completion("<think>x</think>")))
    with pytest.raises(llm.LLMError):
        llm.answer_question(
            ENDPOINT, PROMPTS, question="q", quotes=["a"], language="en", transport=empty
        )
