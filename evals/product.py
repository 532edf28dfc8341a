"""`visitlens eval`: the product's figures on any folder laid out like the corpus, over HTTP.

It measures what a user gets from a running server, the way ../shared/tools/score.py does, and
adds the figures that need the project's own code (per-label tables, question types)."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from api.client import Client, ServerError
from evals.errorrate import cer_zh, strip_latin, wer_en
from evals.labels import GoldUtterance, load_gold_utterances, match_actions, prf
from evals.numbers import read_numbers
from evals.roles import role_accuracy
from nlp.actions import ActionItem
from nlp.labels import KINDS


def _visits(corpus: Path) -> Iterator[dict[str, Any]]:
    for path in sorted((corpus / "visits").glob("*.json")):
        yield json.loads(path.read_text(encoding="utf-8"))


def audio_of(corpus: Path, visit_id: str, variant: str) -> Path:
    name = f"{visit_id}.mp3" if variant == "clean" else f"{visit_id}.{variant}.mp3"
    return corpus / "audio" / name


def upload_fields(meta: dict[str, Any]) -> dict[str, str]:
    customer = meta.get("customer") or {}
    return {
        "title": meta["id"],
        "language": "auto",
        "rep": meta.get("rep", ""),
        "customer": customer.get("company", ""),
        "segment": customer.get("segment", ""),
        "industry": customer.get("industry", ""),
        "visit_date": meta.get("date", ""),
    }


def eval_asr(
    client: Client, corpus: Path, variant: str = "clean", ids: set[str] | None = None
) -> dict[str, Any]:
    """Upload each recording, wait, and score transcript error and role attribution."""
    rows: list[dict[str, Any]] = []
    totals: dict[str, list[float]] = {}
    for meta in _visits(corpus):
        if ids and meta["id"] not in ids:
            continue
        path = audio_of(corpus, meta["id"], variant)
        if not path.exists():
            continue
        truth = json.loads(Path(f"{path}.truth.json").read_text(encoding="utf-8"))
        started = time.monotonic()
        visit = client.wait(client.upload(path, **upload_fields(meta))["id"])
        seconds = time.monotonic() - started
        if visit["status"] != "done":
            rows.append({"id": meta["id"], "error": visit.get("error")})
            continue
        segments = client.call("GET", f"/api/visits/{visit['id']}/transcript")["segments"]
        hyp = " ".join(s["text"] for s in segments)
        ref = " ".join(t["text"] for t in truth["turns"])
        lang = meta["language"]
        ref, hyp = read_numbers(lang, ref, ref), read_numbers(lang, hyp, ref)  # as score.py does
        edits, n = cer_zh(ref, hyp) if lang == "zh" else wer_en(ref, hyp)
        roles = role_accuracy(truth["turns"], segments)
        row = {
            "id": meta["id"],
            "lang": lang,
            "error_rate": round(edits / n, 4),
            "role_accuracy": round(roles, 3),
            "seconds": round(seconds, 1),
        }
        if lang == "zh":
            e2, n2 = cer_zh(strip_latin(ref), strip_latin(hyp))
            row["error_rate_no_latin"] = round(e2 / n2, 4)
        rows.append(row)
        acc = totals.setdefault(lang, [0, 0, 0.0, 0.0])
        acc[0] += edits
        acc[1] += n
        acc[2] += roles * truth["duration"]
        acc[3] += truth["duration"]
    summary = {
        lang: {"error_rate": round(a[0] / a[1], 4), "role_accuracy": round(a[2] / a[3], 3)}
        for lang, a in totals.items()
    }
    return {
        "variant": variant,
        "rows": rows,
        "summary": summary,
        "failures": sum("error" in r for r in rows),
    }


def _ids(items: Any) -> set[str]:
    return {x if isinstance(x, str) else (x.get("id") or x.get("label")) for x in items or []}


def eval_labels(client: Client, corpus: Path) -> dict[str, Any]:
    """Per-label P/R/F1, macro/micro-F1, sentiment accuracy and risk P/R via /api/analyze/text."""
    utts = load_gold_utterances(corpus)
    preds: list[tuple[GoldUtterance, dict[str, Any]]] = []
    started = time.monotonic()
    for lang in ("zh", "en"):
        batch = [u for u in utts if u.language == lang]
        for i in range(0, len(batch), 50):
            chunk = batch[i : i + 50]
            out = client.call(
                "POST",
                "/api/analyze/text",
                json={"texts": [u.text for u in chunk], "language": lang},
            )
            preds += list(zip(chunk, out["results"], strict=True))
    seconds = time.monotonic() - started
    pairs: list[tuple[set[str], set[str]]] = []
    sentiment_ok = risk_tp = risk_fp = risk_fn = 0
    for u, p in preds:
        pairs.append((set(u.labels), _need_pain(p.get("labels"))))
        s = p.get("sentiment")
        sentiment_ok += (s.get("label") if isinstance(s, dict) else s) == u.sentiment
        gold_risk, got_risk = set(u.risk), _ids(p.get("risk"))
        risk_tp += len(gold_risk & got_risk)
        risk_fp += len(got_risk - gold_risk)
        risk_fn += len(gold_risk - got_risk)
    rp, rr, _ = prf(risk_tp, risk_fp, risk_fn)
    n = max(len(preds), 1)
    return {
        "n": len(preds),
        **_label_table(pairs),
        "sentiment_acc": round(sentiment_ok / n, 3),
        "risk_p": round(rp, 3),
        "risk_r": round(rr, 3),
        "ms_per_utterance": round(1000 * seconds / n, 1),
    }


def _need_pain(items: Any) -> set[str]:
    return {x for x in _ids(items) if x and x.split(".")[0] in KINDS}


def _label_table(pairs: list[tuple[set[str], set[str]]]) -> dict[str, Any]:
    """Per-label P/R/F1 and macro/micro-F1 of (gold, predicted) label sets."""
    per: dict[str, list[int]] = {}
    for gold, got in pairs:
        for label in gold | got:
            c = per.setdefault(label, [0, 0, 0])
            c[0] += label in gold and label in got
            c[1] += label in got and label not in gold
            c[2] += label in gold and label not in got
    table = {k: [round(x, 3) for x in prf(*c)] for k, c in sorted(per.items())}
    sums = [sum(c[i] for c in per.values()) for i in range(3)]
    return {
        "per_label_prf": table,
        "macro_f1": round(sum(v[2] for v in table.values()) / max(len(table), 1), 3),
        "micro_f1": round(prf(*sums)[2], 3),
    }


def eval_transcript_labels(client: Client, corpus: Path, variant: str) -> dict[str, Any]:
    """need/pain labels of the ingested visits' own transcripts (GET /analysis) against the
    corpus's labelled customer turns, matched by time: what a user gets from a recording,
    recognition errors and segments shorter than a turn included."""
    listed = client.call("GET", "/api/visits?limit=200")["items"]
    id_of = {v["title"]: v["id"] for v in listed if v["status"] == "done"}
    pairs: list[tuple[set[str], set[str]]] = []
    for meta in _visits(corpus):
        truth = Path(f"{audio_of(corpus, meta['id'], variant)}.truth.json")
        if meta["id"] not in id_of or not truth.exists():
            continue
        spans = json.loads(truth.read_text(encoding="utf-8"))["turns"]
        said = client.call("GET", f"/api/visits/{id_of[meta['id']]}/analysis")["utterances"]
        for span, turn in zip(spans, meta["turns"], strict=False):
            if span["speaker"] != "customer":
                continue
            got: set[str] = set()
            for u in said:  # the turn's segments: their middle falls within it
                if span["start"] - 0.3 <= (u["start"] + u["end"]) / 2 <= span["end"] + 0.3:
                    got |= _need_pain(u["labels"])
            pairs.append((set(turn.get("labels") or []), got))
    return {"turns": len(pairs), **_label_table(pairs)}


def eval_actions(client: Client, corpus: Path) -> dict[str, Any]:
    """Action items of the ingested visits (GET /analysis) against each visit's "actions":
    the product end to end, from the recording's transcript."""
    listed = client.call("GET", "/api/visits?limit=200")["items"]
    id_of = {v["title"]: v["id"] for v in listed if v["status"] == "done"}
    found = total = extracted = 0
    for meta in _visits(corpus):
        if meta["id"] not in id_of or "actions" not in meta:
            continue
        report = client.call("GET", f"/api/visits/{id_of[meta['id']]}/analysis")
        got = [
            ActionItem(
                a["owner"],
                a["text"],
                date.fromisoformat(a["due"]) if a.get("due") else None,
                a.get("start"),
                a.get("quote", ""),
            )
            for a in report.get("actions", [])
        ]
        found += match_actions(meta["actions"], got)
        total += len(meta["actions"])
        extracted += len(got)
    return {
        "gold": total,
        "extracted": extracted,
        "recall": round(found / total, 3) if total else 0.0,
        "precision": round(found / extracted, 3) if extracted else 0.0,
    }


def eval_search(client: Client, corpus: Path) -> dict[str, Any]:
    """recall@5 and MRR of relevant visits for queries.json (visits ingested by eval_asr)."""
    path = corpus / "queries.json"
    if not path.exists():
        return {}
    queries = json.loads(path.read_text(encoding="utf-8"))
    listed = client.call("GET", "/api/visits?limit=200")["items"]
    title_of = {v["id"]: v["title"] for v in listed}
    _wait_indexed(client, sum(v["status"] == "done" for v in listed))
    out: dict[str, Any] = {}
    for mode in ("hybrid", "dense", "bm25"):
        recall = rr = 0.0
        latencies = []
        for q in queries:
            params = {
                "q": q["query"],
                "kind": q.get("kind", "utterance"),
                "limit": 20,
                "mode": mode,
            }
            params.update(q.get("filters") or {})
            started = time.monotonic()
            res = client.call("GET", "/api/search?" + urllib.parse.urlencode(params))
            latencies.append(time.monotonic() - started)
            ranked: list[str | None] = []
            for hit in res.get("results", []):
                key = title_of.get(hit.get("visit_id")) or (hit.get("visit") or {}).get("title")
                if key not in ranked:
                    ranked.append(key)
            relevant = set(q["relevant"])
            recall += len(set(ranked[:5]) & relevant) / len(relevant)
            rank = next((i + 1 for i, k in enumerate(ranked) if k in relevant), None)
            rr += 1 / rank if rank else 0.0
        latencies.sort()
        n = len(queries)
        out[mode] = {
            "recall@5": round(recall / n, 3),
            "mrr": round(rr / n, 3),
            "p95_ms": round(1000 * latencies[int(0.95 * (n - 1))], 1),
        }
    out["similar"] = eval_similar(client, corpus, {v: k for k, v in title_of.items()})
    return out


def _wait_indexed(client: Client, visits: int, timeout: float = 60) -> None:
    """Wait until the API's search index holds every finished visit (it follows within seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if client.call("GET", "/api/search?q=visit&kind=visit&limit=1")["total"] >= visits:
                return
        except ServerError:  # 503 while the index warms up
            pass
        time.sleep(1)


def eval_similar(client: Client, corpus: Path, id_of: dict[str, str]) -> dict[str, Any]:
    """hit@3 and recall@3 against each visit's similar_to: of GET /visits/{id}/similar, and of
    POST /similar given the first sentence of the visit's scripted summary (its problem, as a rep
    would describe it; the visit itself is left out of the answer)."""
    found: dict[str, list[tuple[bool, float]]] = {"visit": [], "text": []}
    for meta in _visits(corpus):
        wanted = set(meta.get("similar_to") or [])
        visit_id = id_of.get(meta["id"])
        if not wanted or visit_id is None:
            continue
        res = client.call("GET", f"/api/visits/{visit_id}/similar?limit=3")
        answers = {"visit": [r["title"] for r in res.get("results", [])]}
        problem = re.split(r"(?<=[。.!?！？])", meta.get("summary") or "")[0].strip()
        if problem:
            res = client.call("POST", "/api/similar", json={"text": problem, "limit": 4})
            answers["text"] = [r["title"] for r in res["results"] if r["title"] != meta["id"]]
        for kind, titles in answers.items():
            top = set(titles[:3])
            found[kind].append((bool(top & wanted), len(top & wanted) / len(wanted)))
    out: dict[str, Any] = {}
    for kind, rows in found.items():
        n = max(len(rows), 1)
        prefix = "" if kind == "visit" else "free_text_"
        out |= {
            f"{prefix}visits": len(rows),
            f"{prefix}hit@3": round(sum(h for h, _ in rows) / n, 3),
            f"{prefix}recall@3": round(sum(r for _, r in rows) / n, 3),
        }
    return out
