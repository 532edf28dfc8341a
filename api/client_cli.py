"""`visitlens ingest`: upload files to a running server over HTTP and follow them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.client import Client, ServerError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

DEFAULT_URL = "http://127.0.0.1:8000"
Url = Annotated[str, typer.Option(envvar="VISITLENS_URL", help="The visitlens server.")]
Token = Annotated[str | None, typer.Option(envvar="VISITLENS_TOKEN", help="API token, if set.")]


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
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    client = Client(url, token)
    fields = {
        "rep": rep or "",
        "customer": customer or "",
        "segment": segment or "",
        "language": language,
        "outcome": outcome or "",
    }
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns) as bar:
        accepted, failed = _upload(client, bar, files, fields)
        if wait:
            failed += _follow(client, bar, accepted)
    raise typer.Exit(1 if failed else 0)


def _upload(
    client: Client, bar: Progress, files: list[Path], fields: dict[str, str]
) -> tuple[list[tuple[TaskID, str]], int]:
    """Upload each file under its own bar; returns the accepted (bar, visit id) and the failures."""
    accepted: list[tuple[TaskID, str]] = []
    failed = 0
    for path in files:
        task = bar.add_task(path.name, total=1.0, status="uploading")
        try:
            visit = client.upload(path, **fields)
        except ServerError as e:
            bar.update(task, status=f"[red]{e}")
            failed += 1
            continue
        bar.update(task, status=f"{visit['status']} {visit['id']}")
        accepted.append((task, visit["id"]))
    return accepted, failed


def _follow(client: Client, bar: Progress, accepted: list[tuple[TaskID, str]]) -> int:
    """Follow each visit until it is done or failed; returns how many failed."""
    failed = 0
    for task, visit_id in accepted:

        def show(v: dict[str, Any], t: TaskID = task) -> None:
            bar.update(t, completed=float(v["progress"]), status=str(v["status"]))

        visit = client.wait(visit_id, on_update=show)
        if visit["status"] == "failed":
            failed += 1
            bar.update(task, status=f"[red]failed: {visit['error']['message']}")
        else:
            bar.update(task, completed=1.0, status=f"[green]done {visit_id}")
    return failed
