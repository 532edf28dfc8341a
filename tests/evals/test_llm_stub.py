"""The local OpenAI-compatible stub: it cites the quotes of the prompt it is sent, with the share
of faults it is told, the same way every time; slow or failing on request."""

from __future__ import annotations

import pytest

from api.routes.ask import compose_answer, quote_line
from evals.llm_stub import Quote, StubConfig, read_prompt, serve, stub_answer
from nlp import llm
from nlp.citations import check_citations
from nlp.labels import SHIPPED_PROMPTS

QUOTES = [
    Quote(n, f"Visit {n}", "customer", f"Service was slow. We waited {n} days")
    for n in (1, 2, 3, 4)
]
LINES = [quote_line(q.title, None, q.role, q.text) for q in QUOTES]
CITED = [{"n": q.n, "text": q.text} for q in QUOTES]


def test_it_reads_the_question_and_quote_lines_the_route_sends() -> None:
    template = llm.load_prompt(SHIPPED_PROMPTS / "llm" / "ask.yaml", "en")
    lines = "\n".join(f"[{n}] {x}" for n, x in enumerate(LINES, start=1))
    prompt = llm._messages(template, question="Is service slow?", quotes=lines)[1]["content"]
    assert read_prompt(prompt) == ("Is service slow?", QUOTES)


@pytest.mark.parametrize("question", ["Is service slow?", "售后慢吗？"])
def test_without_faults_every_sentence_cites_a_quote_given(question: str) -> None:
    for seed in range(20):
        answer = stub_answer(question, QUOTES, StubConfig(0, 0, seed=seed))
        checked = check_citations(answer, len(QUOTES))
        assert checked.sentences >= 2 and checked.kept == checked.sentences
        assert checked.invalid_citations == 0


def test_faults_cite_past_the_last_quote_or_nothing_as_often_as_asked() -> None:
    def counts(config: StubConfig) -> tuple[int, int, int]:
        total = kept = invalid = 0
        for seed in range(200):
            answer = stub_answer(
                "Is service slow?", QUOTES, StubConfig(**{**config.__dict__, "seed": seed})
            )
            checked = check_citations(answer, len(QUOTES))
            total, kept, invalid = (
                total + checked.sentences,
                kept + checked.kept,
                invalid + checked.invalid_citations,
            )
        return total, kept, invalid

    total, kept, invalid = counts(StubConfig(bad_number=1.0, uncited=0))
    assert kept == 0 and invalid == total
    total, kept, invalid = counts(StubConfig(bad_number=0, uncited=1.0))
    assert kept == 0 and invalid == 0
    total, kept, invalid = counts(StubConfig(bad_number=0.1, uncited=0.2))
    assert 0.6 < kept / total < 0.8 and 0.05 < invalid / total < 0.15


def test_the_same_prompt_gets_the_same_answer() -> None:
    config = StubConfig(0.3, 0.3)
    assert stub_answer("q", QUOTES, config) == stub_answer("q", QUOTES, config)
    assert stub_answer("q", QUOTES, config) != stub_answer(
        "q", QUOTES, StubConfig(0.3, 0.3, seed=1)
    )


def test_served_it_answers_the_route_s_answer_and_keeps_the_exchange() -> None:
    with serve(StubConfig(0, 0)) as stub:
        endpoint = llm.ChatEndpoint(stub.url, timeout_s=5)
        llm.probe(endpoint)  # GET /models
        got = compose_answer("Is service slow?", CITED, LINES, 4, endpoint, SHIPPED_PROMPTS)
    assert got.kind == "written" and got.warnings == [] and "[1]" in got.text
    assert [(x.question, x.quotes) for x in stub.exchanges] == [("Is service slow?", 4)]


@pytest.mark.parametrize(
    ("config", "reason"),
    [(StubConfig(delay_s=1.0), "timeout"), (StubConfig(status=500), "http_error")],
)
def test_a_slow_or_failing_stub_leaves_the_quotes_with_a_warning(
    config: StubConfig, reason: str
) -> None:
    with serve(config) as stub:
        endpoint = llm.ChatEndpoint(stub.url, timeout_s=0.3)
        with pytest.raises(llm.LLMError) as e:
            llm.answer_question(
                endpoint, SHIPPED_PROMPTS, question="q", quotes=LINES, language="en"
            )
        got = compose_answer("Is service slow?", CITED, LINES, 4, endpoint, SHIPPED_PROMPTS)
    assert e.value.reason == reason
    assert got.kind == "extractive" and [w["code"] for w in got.warnings] == ["llm_unavailable"]
