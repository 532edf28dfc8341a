"""The answer of POST /api/ask: the endpoint's sentences that cite a quote it was given, else the
extractive answer, with a warning for every change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.routes.ask import compose_answer, quote_line
from nlp.llm import ChatEndpoint

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
ENDPOINT = ChatEndpoint(url="http://llm.test/v1", timeout_s=2)
TEXTS = ["售后太慢了", "等了三天", "我们在看别家"]
CITED: list[dict[str, Any]] = [{"n": n, "text": t} for n, t in enumerate(TEXTS, start=1)]
LINES = [quote_line("Acme", None, "customer", t) for t in TEXTS[:2]]  # 2 sent of 3


def answering(content: str) -> httpx.MockTransport:
    return httpx.MockTransport(
        lambda _: httpx.Response(200, json={"choices": [{"message": {"content": content}}]})
    )


def failing(error: Callable[[httpx.Request], Any]) -> httpx.MockTransport:
    return httpx.MockTransport(error)


def answer(transport: httpx.MockTransport, question: str = "售后慢吗？") -> Any:
    return compose_answer(question, CITED, LINES, 1, ENDPOINT, PROMPTS, transport=transport)


def test_a_written_answer_citing_its_quotes_is_shown_as_written() -> None:
    got = answer(answering("<think>x</think>售后慢[1]，要等三天[2]。"))
    assert (got.kind, got.text, got.warnings) == ("written", "售后慢[1]，要等三天[2]。", [])


def test_made_up_citations_go_and_uncited_sentences_are_dropped_with_warnings() -> None:
    # [3] is a quote of the response but was not sent to the endpoint: not a valid citation
    got = answer(answering("售后慢[1][7]。很多客户都这么说。有人在看别家[3]。"))
    assert (got.kind, got.text) == ("written", "售后慢[1]。")
    assert [w["code"] for w in got.warnings] == [
        "uncited_sentences_dropped",
        "invalid_citations_removed",
    ]
    assert "2 of 3 sentences" in got.warnings[0]["message"]


def test_an_answer_citing_none_of_its_quotes_falls_back_to_the_quotes() -> None:
    got = answer(answering("Most customers want to switch [12]. It is common."), "Who switches?")
    assert got.kind == "extractive" and got.text.startswith("Related moments in 1 visits")
    assert [w["code"] for w in got.warnings] == ["answer_uncited"]


def raise_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("slow", request=request)


def raise_refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


@pytest.mark.parametrize(
    "transport",
    [
        failing(raise_timeout),
        failing(raise_refused),
        failing(lambda _: httpx.Response(503)),
        answering("   "),
    ],
    ids=["slow", "down", "http_error", "empty"],
)
def test_an_endpoint_that_is_slow_down_or_silent_gives_the_quotes_and_says_so(
    transport: httpx.MockTransport,
) -> None:
    got = answer(transport)
    assert got.kind == "extractive" and "[1] “售后太慢了”" in got.text
    assert [w["code"] for w in got.warnings] == ["llm_unavailable"]


def test_without_an_endpoint_or_quotes_the_answer_is_extractive_without_warning() -> None:
    none = compose_answer("q", CITED, LINES, 1, None, PROMPTS)
    empty = compose_answer("q", [], [], 0, ENDPOINT, PROMPTS, transport=answering("x [1]."))
    assert (none.kind, none.warnings) == ("extractive", [])
    assert (empty.kind, empty.text) == ("extractive", "No past visit says anything close to this.")
