"""`visitlens audio ...`: the encryption keys of the stored recordings."""

from __future__ import annotations

import typer

from knowledge.settings import Settings

audio_cli = typer.Typer(help="Stored recordings: their encryption keys.", no_args_is_help=True)


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

    settings = Settings()
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
