"""A small local OpenAI-compatible chat server that answers ask questions from their quotes.

It reads the numbered quote lines of the prompt ("[n] (visit title, date) role: text", as
POST /api/ask sends them) and writes a short answer whose sentences cite them, in the question's
language, with a set share of faults: a sentence citing a number past the last quote, a sentence
with no citation. Deterministic: the same prompt and settings give the same answer. It varies the
form as models do (a citation before or after the full stop, [1, 2] or [1][2], a reasoning block
first). Each exchange is kept (quotes given, answer written) so an evaluation can count what the
endpoint wrote against what the product shows.

    python -m evals.llm_stub --port 8090 --bad-number 0.1 --uncited 0.1
    VISITLENS_LLM_URL=http://127.0.0.1:8090/v1 visitlens up
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "visitlens-stub"
_QUOTE = re.compile(
    r"^\[(\d+)\]\s*(?:\((?P<title>.*?),\s*[0-9-]*\)\s*(?P<role>[A-Za-z_]*)\s*:)?\s*(?P<text>.*)$"
)
_QUESTION = re.compile(r"^(?:Question|问题)\s*[:：]\s*(.*)$", re.MULTILINE)
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class StubConfig:
    """Per sentence: bad_number, the share citing only a number past the last quote; uncited,
    the share citing nothing. delay_s before each answer (a slow endpoint); status other than
    200 answers every chat request with that HTTP status."""

    bad_number: float = 0.1
    uncited: float = 0.1
    delay_s: float = 0.0
    status: int = 200
    seed: int = 0


@dataclass(frozen=True)
class Quote:
    n: int
    title: str
    role: str
    text: str


@dataclass(frozen=True)
class Exchange:
    question: str
    quotes: int  # numbered quotes the prompt held
    answer: str


def read_prompt(prompt: str) -> tuple[str, list[Quote]]:
    """The question and the numbered quotes of an ask prompt."""
    found = _QUESTION.search(prompt)
    quotes = []
    for line in prompt.splitlines():
        m = _QUOTE.match(line.strip())
        if m:
            title, role = (m.group("title") or "").strip(), m.group("role") or ""
            quotes.append(Quote(int(m.group(1)), title, role, m.group("text").strip()))
    return (found.group(1).strip() if found else ""), quotes


def _short(text: str, zh: bool) -> str:
    limit = 30 if zh else 90
    text = " ".join(text.split()).rstrip("。.!！?？")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cite(numbers: list[int], rng: random.Random) -> str:
    if len(numbers) > 1 and rng.random() < 0.5:
        return "[" + ", ".join(str(k) for k in numbers) + "]"
    return "".join(f"[{k}]" for k in numbers)


def stub_answer(question: str, quotes: list[Quote], config: StubConfig) -> str:
    """An answer of 2-5 sentences over the quotes, each citing what it says unless a fault
    (drawn per sentence from config) makes it cite a missing number or nothing."""
    zh = bool(_CJK.search(question))
    said = "|".join(f"{q.n} {q.text}" for q in quotes)
    digest = hashlib.sha256(f"{config.seed}|{question}|{said}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    if not quotes:
        return "这些原话回答不了这个问题。" if zh else "The quotes do not answer this question."
    claims: list[tuple[str, list[int]]] = []
    for q in quotes[: rng.randint(2, 4)]:
        said = _short(q.text, zh)
        if zh:
            who = {"customer": "客户", "rep": "销售"}.get(q.role, "有人")
            claims.append((f"在“{q.title or '一次拜访'}”中，{who}提到：“{said}”", [q.n]))
        else:
            who = f"the {q.role}" if q.role else "someone"
            claims.append((f"In {q.title or 'one visit'}, {who} says “{said}”", [q.n]))
    if len(quotes) >= 2 and rng.random() < 0.7:
        pair = sorted(rng.sample([q.n for q in quotes[:6]], 2))
        summary = "这几次拜访说的是同一类问题" if zh else "These visits point the same way"
        claims.append((summary, pair))
    last = max(q.n for q in quotes)
    sentences = []
    for text, numbers in claims:
        draw = rng.random()
        if draw < config.bad_number:
            numbers = [last + rng.randint(1, 5)]
        elif draw < config.bad_number + config.uncited:
            numbers = []
        stop = "。" if zh else "."
        cite = _cite(numbers, rng)
        if cite and rng.random() < 0.3:
            sentences.append(f"{text}{stop}{'' if zh else ' '}{cite}")
        else:
            sentences.append(f"{text}{'' if zh or not cite else ' '}{cite}{stop}")
    return ("" if zh else " ").join(sentences)


def served_answer(question: str, quotes: list[Quote], config: StubConfig) -> str:
    """stub_answer, after a reasoning block one time in five (as reasoning models write)."""
    answer = stub_answer(question, quotes, config)
    if hashlib.sha256(answer.encode()).digest()[0] < 52:
        return f"<think>{len(quotes)} quotes to weigh.</think>\n{answer}"
    return answer


class StubServer:
    """The stub on 127.0.0.1 (port 0: any free one) in a thread; url is its /v1 base."""

    def __init__(self, config: StubConfig | None = None, port: int = 0):
        self.config = config or StubConfig()
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found"}})
                    return
                try:
                    body = json.loads(self.rfile.read(length))
                    prompt = str(body["messages"][-1]["content"])
                except (ValueError, KeyError, IndexError, TypeError):
                    self._send(400, {"error": {"message": "not a chat request"}})
                    return
                if stub.config.delay_s:
                    time.sleep(stub.config.delay_s)
                if stub.config.status != 200:
                    self._send(stub.config.status, {"error": {"message": "stub fault"}})
                    return
                question, quotes = read_prompt(prompt)
                answer = served_answer(question, quotes, stub.config)
                with stub._lock:
                    stub.exchanges.append(Exchange(question, len(quotes), answer))
                self._send(200, completion(answer))

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """In the foreground, until interrupted."""
        try:
            self._server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self._server.server_close()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 0,
        "model": MODEL,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
    }


@contextmanager
def serve(config: StubConfig | None = None, port: int = 0) -> Iterator[StubServer]:
    """The stub running for the with block."""
    server = StubServer(config, port).start()
    try:
        yield server
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--bad-number", type=float, default=StubConfig.bad_number)
    parser.add_argument("--uncited", type=float, default=StubConfig.uncited)
    parser.add_argument("--delay-s", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = StubConfig(args.bad_number, args.uncited, args.delay_s, seed=args.seed)
    server = StubServer(config, args.port)
    print(f"OpenAI-compatible stub at {server.url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
