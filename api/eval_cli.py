"""`visitlens eval|tune|admit|figures|bench|bench-faults`: measure visitlens with the evals package
(imported only when one of these runs: the image copies no evals/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api.client import Client
from api.client_cli import DEFAULT_URL, Token, Url
from knowledge.settings import Settings

SHARED_CORPUS = Path("../shared/corpus")


def _names(text: str) -> list[str]:
    """The non-empty names of a ','-separated option, stripped."""
    return [n.strip() for n in text.split(",") if n.strip()]


def _dump(result: dict[str, object], out: Path | None) -> None:
    text = json.dumps(result, ensure_ascii=False, indent=1)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    typer.echo(text)


def evaluate(
    corpus: Annotated[Path, typer.Argument(exists=True, file_okay=False)] = SHARED_CORPUS,
    parts: Annotated[
        str, typer.Option(help="Comma-separated: asr,labels,search")
    ] = "asr,labels,search",
    variant: Annotated[str, typer.Option(help="clean, noisy or hard recordings")] = "clean",
    ids: Annotated[str, typer.Option(help="Only these visit ids (comma-separated)")] = "",
    url: Url = DEFAULT_URL,
    token: Token = None,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON here.")] = None,
) -> None:
    """Measure a running server on a corpus-like folder: ASR, roles, labels, search."""
    from evals import product as ev

    client = Client(url, token)
    client.call("GET", "/api/health")
    chosen = {p.strip() for p in parts.split(",")}
    result: dict[str, object] = {"corpus": str(corpus)}
    if "asr" in chosen:
        chosen_ids = {i for i in ids.split(",") if i} or None
        result["asr"] = ev.eval_asr(client, corpus, variant, chosen_ids)
    if "labels" in chosen:
        result["labels"] = ev.eval_labels(client, corpus)
        # over the visits ingested by asr: the product end to end, from the recordings
        result["transcript_labels"] = ev.eval_transcript_labels(client, corpus, variant)
        result["actions"] = ev.eval_actions(client, corpus)
    if "search" in chosen:
        result["search"] = ev.eval_search(client, corpus)
    _dump(result, out)


def tune(
    encoders: Annotated[
        str, typer.Option(help="Encoder sets to try, ';'-separated, e.g. 'usem3;usem3,e5-small'")
    ] = "",
    only: Annotated[
        str,
        typer.Option(
            help="Settings to search, ','-separated (e.g. 'latent_share,c_latent'); the others "
            "stay as prompts/training.yaml has them. Default: every setting."
        ),
    ] = "",
) -> None:
    """Choose the classifier's settings by cross-validation over prompts/examples (one writer held
    out at a time), write prompts/training.yaml, then retrain."""
    from evals.cv import UnknownSetting, run_tune

    settings = Settings()
    choices = [tuple(e.split(",")) for e in encoders.split(";") if e] or None
    fields = _names(only) or None
    try:
        result = run_tune(settings.prompts_dir, settings.data_dir / "cache", choices, fields)
    except UnknownSetting as exc:
        raise typer.BadParameter(str(exc), param_hint="--only") from exc
    _dump(result, None)


def admit(
    writers: Annotated[str, typer.Argument(help="The new writers, ','-separated, e.g. 'w11,w12'")],
    commitments: Annotated[
        bool, typer.Option(help="Judge commitment sentences (prompts/commitments) instead.")
    ] = False,
) -> None:
    """Whether new writers' examples in prompts/examples (or prompts/commitments) help: the
    other writers' cross-validation figures with the classifier trained without and with them."""
    from evals.cv import UnknownWriter, admit, admit_acts

    settings = Settings()
    judge = admit_acts if commitments else admit
    try:
        result = judge(settings.prompts_dir, settings.data_dir / "cache", _names(writers))
    except UnknownWriter as exc:
        raise typer.BadParameter(str(exc), param_hint="WRITERS") from exc
    _dump(result, None)


def figures(
    blind: Annotated[Path | None, typer.Option(help="The blind set folder.")] = Path("evals/blind"),
    dev: Annotated[
        list[Path] | None,
        typer.Option(help="Own development folders, each reported under its folder's name."),
    ] = None,
    corpus: Annotated[Path | None, typer.Option(help="A corpus-like test folder.")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON here.")] = None,
) -> None:
    """Text analysis and search figures three ways: cross-validation (or own dev visits), the
    blind set, a corpus folder."""
    from evals.figures import three_way
    from nlp.classify import load_classifier
    from nlp.commitments import load_act_classifier

    settings = Settings()
    devs = dev if dev is not None else [Path("evals/dev"), Path("evals/dev2"), Path("evals/dev3")]
    result = three_way(
        settings.prompts_dir,
        load_classifier(settings.prompts_dir),
        load_act_classifier(settings.prompts_dir),
        {
            **{folder.name: folder for folder in devs if folder.exists()},
            "blind": blind if blind and blind.exists() else None,
            "corpus": corpus,
        },
        settings.data_dir / "cache",
        settings.embedding_model,
    )
    _dump(result, out)


def bench(
    corpus: Annotated[Path, typer.Option("--dir", exists=True, file_okay=False)] = SHARED_CORPUS,
    variants: Annotated[str, typer.Option(help="clean,noisy,hard")] = "clean",
    minutes: Annotated[
        str, typer.Option(help="Minutes of corpus audio joined, e.g. 60,240, against plain")
    ] = "",
    long_modes: Annotated[str, typer.Option(help="plain, visitlens, e2e")] = "plain,visitlens",
    limit: Annotated[int | None, typer.Option(help="At most this many visits per variant.")] = None,
    skip_asr: Annotated[bool, typer.Option(help="Skip the ASR comparison.")] = False,
    openai: Annotated[
        bool, typer.Option(help="Also time POST /v1/audio/transcriptions against plain.")
    ] = False,
    kb_sizes: Annotated[str, typer.Option(help="Utterance counts for search/insights timing")] = "",
    kb_database: Annotated[
        str | None, typer.Option(help="Database for the insights timing")
    ] = None,
    kb_search: Annotated[
        bool,
        typer.Option(
            help="Also measure search on the engines at these sizes (evals.scalebench: its own "
            "PostgreSQL database and Chroma server)."
        ),
    ] = False,
    playbooks: Annotated[
        int, typer.Option(help="Time playbook suggestions at this many synthetic utterances")
    ] = 0,
    page_visits: Annotated[
        int,
        typer.Option(
            help="Time the web page in Chromium (ready to use, a visit opened) at this many visits"
        ),
    ] = 0,
    url: Url = DEFAULT_URL,
    token: Token = None,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON here.")] = None,
) -> None:
    """Compare visitlens with plain faster-whisper (same model, same run): error, time, memory."""
    from evals import bench as b
    from evals.longbench import bench_long

    settings = Settings()
    result: dict[str, object] = {"asr_model": settings.asr_model, "corpus": str(corpus)}
    client = Client(url, token)  # asks nothing until a part needs the server
    if not skip_asr:
        client.call("GET", "/api/health")
        result["asr"] = b.bench_asr(client, settings, corpus, variants.split(","), limit)
    if openai:
        result["openai"] = b.bench_openai(client, settings, corpus, variants.split(","), limit)
    if minutes:
        lengths, modes = [float(m) for m in minutes.split(",")], tuple(long_modes.split(","))
        result["long"] = bench_long(corpus, lengths, settings.data_dir / "bench", modes, client)
    if kb_sizes:
        result["knowledge_base"] = b.bench_knowledge_base(
            [int(n) for n in kb_sizes.split(",")],
            kb_database or settings.database_url,
            search=kb_search,
        )
    result |= _bench_in_process(settings, playbooks=playbooks, page_visits=page_visits)
    _dump(result, out)


def _bench_in_process(settings: Settings, *, playbooks: int, page_visits: int) -> dict[str, object]:
    """Timings of the app built in this process: playbook suggestions, the web page."""
    result: dict[str, object] = {}
    if playbooks:
        from evals.playbooks import bench_playbooks, check_written

        result["playbooks"] = bench_playbooks(settings, playbooks)
        result["playbooks_written_check"] = check_written(settings)
    if page_visits:
        from evals.pagebench import bench_page

        result["page"] = bench_page(settings, page_visits)
    return result


def bench_faults(
    stack: Annotated[
        list[str] | None, typer.Option(help="sqlite and/or postgres (both when not given)")
    ] = None,
    fuzz_examples: Annotated[int, typer.Option(help="Fuzzed cases per operation.")] = 25,
    pg_admin: Annotated[str, typer.Option(help="PostgreSQL admin URL (postgres stack)")] = (
        "postgresql://postgres@127.0.0.1:5432/test"
    ),
    out: Annotated[Path | None, typer.Option(help="Also write the JSON here.")] = None,
) -> None:
    """The fault suite on throwaway stacks of real processes, and its figures: server errors
    per 10,000 fuzzed requests, worker-kill takeover, search latency under load, orphans."""
    from evals.faults import run_all

    kinds = stack or ["sqlite", "postgres"]
    if set(kinds) - {"sqlite", "postgres"}:
        typer.echo("--stack takes sqlite or postgres", err=True)
        raise typer.Exit(2)
    result: dict[str, object] = {
        k: run_all(k, fuzz_examples=fuzz_examples, pg_admin=pg_admin)  # type: ignore[arg-type]  # checked above
        for k in kinds
    }
    _dump(result, out)
