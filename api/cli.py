"""The visitlens command: the commands of each job, in the order `visitlens --help` lists them."""

from __future__ import annotations

from collections.abc import Callable

import typer

from api import client_cli, eval_cli, maintenance_cli, service_cli
from api.accounts_cli import tokens_cli, users_cli
from api.audio_cli import audio_cli

cli = typer.Typer(
    help="visitlens: customer-visit recordings turned into knowledge.",
    no_args_is_help=True,
    add_completion=False,
)
COMMANDS: dict[str, Callable[..., None]] = {
    "migrate": service_cli.migrate,
    "up": service_cli.up,
    "api": service_cli.api,
    "worker": service_cli.worker,
    "reindex": maintenance_cli.reindex,
    "reanalyse": maintenance_cli.reanalyse,
    "train": maintenance_cli.train,
    "ingest": client_cli.ingest,
    "eval": eval_cli.evaluate,
    "tune": eval_cli.tune,
    "admit": eval_cli.admit,
    "figures": eval_cli.figures,
    "bench": eval_cli.bench,
    "bench-faults": eval_cli.bench_faults,
}
for name, command in COMMANDS.items():
    cli.command(name)(command)
cli.add_typer(service_cli.models_cli, name="models")
cli.add_typer(users_cli, name="user")
cli.add_typer(tokens_cli, name="token")
cli.add_typer(audio_cli, name="audio")


def main() -> None:
    cli()
