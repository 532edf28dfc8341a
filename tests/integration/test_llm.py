"""The optional chat endpoint end to end: a real worker against a stub OpenAI-compatible server."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evals.servers import free_port
from tests.conftest import Stack, make_stack

pytestmark = [pytest.mark.integration]

TIMEOUT_S = 2.0
SUMMARY = "The customer complains about late deliveries and wants firm dates; a plan is due Friday."


class StubLLM(ThreadingHTTPServer):
    """POST /v1/chat/completions with canned answers; `mode` says how to behave."""

    daemon_threads = True
    mode = "ok"  # ok | error | slow
    requests: list[dict[str, Any]]


def _labels_for(user_text: str) -> str:
    items = []
    for n, text in re.findall(r"^\[(\d+)\] (.*)$", user_text, flags=re.MULTILINE):
        labels: list[Any] = []
        if "late" in text:
            labels += [{"id": "pain.delivery", "confidence": 0.95}, "pain.weather"]
        if "supplier" in text:
            labels.append({"id": "need.compliance", "confidence": 0.97})
        if "cheaper" in text:
            labels.append("need.training")  # no confidence given: shown, never merged
        items.append({"n": int(n), "labels": labels, "risk": [], "sentiment": "negative"})
    return "Here you go:\n```json\n" + json.dumps({"items": items}) + "\n```\nAnything else?"


class Handler(BaseHTTPRequestHandler):
    server: StubLLM

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout case)

    def do_GET(self) -> None:
        self._send(200, {"data": [{"id": "stub-model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"auth": self.headers.get("Authorization"), **body})
        if self.server.mode == "error":
            self._send(500, {"error": {"message": "model crashed"}})
            return
        if self.server.mode == "slow":
            time.sleep(TIMEOUT_S + 1.5)
        user = body["messages"][-1]["content"]
        summary = f"```\nSummary: {SUMMARY}\n```"
        answer = _labels_for(user) if user.startswith("Labels:") else summary
        self._send(200, {"choices": [{"message": {"role": "assistant", "content": answer}}]})


@pytest.fixture(scope="module")
def stub_llm() -> Iterator[StubLLM]:
    server = StubLLM(("127.0.0.1", free_port()), Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def llm_stack(
    stub_llm: StubLLM, chroma_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    s = make_stack(
        tmp_path_factory.mktemp("llm"),
        "embedded",
        chroma_url=chroma_url,
        llm_url=f"http://127.0.0.1:{stub_llm.server_port}/v1",
        llm_model="stub-model",
        llm_api_key="secret",
        llm_timeout_s=TIMEOUT_S,
        llm_labels="merge",
    )
    s.start_worker()
    yield s
    s.stop()
    s.client.__exit__(None, None, None)


def _visit(stack: Stack, tmp_path: Path, tag: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Upload a short transcript (unique per test) and wait until it is done."""
    path = tmp_path / f"visit-{tag}.txt"
    path.write_text(
        f"Rep: Thanks for making time today ({tag}). How is the new packaging line running?\n"
        "Customer: Honestly the parts from your warehouse keep arriving late, twice last month.\n"
        "Rep: I am sorry to hear that. What would help most?\n"
        "Customer: We want a firm date on every order and cheaper spare parts.\n"
        "Customer: If this goes on we may move to another supplier.\n"
        "Rep: I will send you a delivery plan by Friday.\n",
        encoding="utf-8",
    )
    res = stack.upload(path, language="en", visit_date="2026-03-02")
    assert res.status_code == 202, res.text
    visit = stack.wait(res.json()["id"], timeout=120)
    assert visit["status"] == "done", visit["error"]
    report = stack.client.get(f"/api/visits/{visit['id']}/analysis").json()
    return visit, report


def test_second_opinion_and_summary_come_from_the_endpoint(
    llm_stack: Stack, stub_llm: StubLLM, tmp_path: Path
) -> None:
    stub_llm.mode = "ok"
    stub_llm.requests.clear()
    visit, report = _visit(llm_stack, tmp_path, "ok")

    assert not any("VISITLENS_LLM_URL" in w for w in visit["warnings"])
    assert report["summary"] == SUMMARY and report["summary_source"] == "llm"
    assert report["summary_builtin"] and report["summary_builtin"] != SUMMARY
    assert report["llm"] == {"model": "stub-model", "labels": "ok", "summary": "ok"}
    assert {r["auth"] for r in stub_llm.requests} == {"Bearer secret"}
    assert {r["model"] for r in stub_llm.requests} == {"stub-model"}

    by_text = {u["text"]: u for u in report["utterances"]}
    assert all("second_opinion" not in u for u in report["utterances"] if u["role"] == "rep")
    late = next(u for t, u in by_text.items() if "late" in t)
    assert [x["id"] for x in late["second_opinion"]["labels"]] == ["pain.delivery"]
    assert "pain.weather" not in json.dumps(report)  # invented ids never survive
    leaving = next(u for t, u in by_text.items() if "supplier" in t)
    assert "need.compliance" in [x["id"] for x in leaving["labels"]]  # merged: the LLM was sure
    assert leaving["disagrees"] is True
    cheaper = next(u for t, u in by_text.items() if "cheaper" in t)
    assert "need.training" not in [x["id"] for x in cheaper["labels"]]  # too unsure to merge
    second = report["second_opinion"]
    assert second["mode"] == "merge" and second["asked"] == second["answered"] == 3
    assert {"idx": leaving["idx"], "labels": ["need.compliance"]} in second["merged"]
    assert any(d["idx"] == leaving["idx"] for d in second["disagreements"])
    assert "utterances" not in second

    health = llm_stack.client.get("/api/health").json()
    assert health["parts"]["llm"] == "ok"


@pytest.mark.parametrize(("mode", "reason"), [("error", "http_error"), ("slow", "timeout")])
def test_a_failing_endpoint_keeps_the_builtin_analysis_with_a_warning(
    llm_stack: Stack, stub_llm: StubLLM, tmp_path: Path, mode: str, reason: str
) -> None:
    stub_llm.mode = mode
    visit, report = _visit(llm_stack, tmp_path, mode)

    assert any("VISITLENS_LLM_URL" in w for w in visit["warnings"]), visit["warnings"]
    assert report["summary"] and report["summary_source"] == "builtin"
    assert "summary_builtin" not in report
    assert report["llm"]["labels"] == reason
    assert report["llm"]["summary"] == ("skipped" if reason == "timeout" else reason)
    assert report["second_opinion"]["answered"] == 0
    assert all("second_opinion" not in u for u in report["utterances"])
    customer = [u for u in report["utterances"] if u["role"] == "customer"]
    assert any(u["labels"] for u in customer)  # the built-in labels stand


def test_health_reports_llm_off_when_not_configured(api: TestClient) -> None:
    assert api.get("/api/health").json()["parts"]["llm"] == "off"
