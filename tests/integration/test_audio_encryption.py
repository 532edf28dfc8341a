"""Recordings encrypted at rest, through the API and a real worker: nothing readable on disk,
the audio route serves the same bytes whole and by range, and the pipeline still transcribes."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from api.cli import cli
from api.local_stack import embedded_audio_key
from evals.errorrate import wer_en
from knowledge import audio_store
from knowledge.audio_crypto import CHUNK_BYTES, AudioKey, Keyring
from nlp.audio import AudioError, probe
from tests.conftest import FIXTURES, Stack, make_stack, settings_for

pytestmark = pytest.mark.integration

KEY = AudioKey.generate()
SPEECH = FIXTURES / "en_short.mp3"


@pytest.fixture(scope="module")
def sealed_stack(tmp_path_factory: pytest.TempPathFactory, chroma_url: str) -> Iterator[Stack]:
    """The embedded stack with an audio key and one worker."""
    s = make_stack(
        tmp_path_factory.mktemp("sealed"),
        "embedded",
        chroma_url=chroma_url,
        audio_key=KEY.to_text(),
    )
    s.start_worker()
    yield s
    s.stop()
    s.client.__exit__(None, None, None)


def upload(stack: Stack, path: Path) -> str:
    res = stack.upload(path, language="en")
    assert res.status_code in (200, 202), res.text
    visit_id: str = res.json()["id"]
    return visit_id


def stored(stack: Stack, visit_id: str) -> Path:
    (path,) = stack.settings.audio_dir.glob(f"*/{visit_id}.*")
    return path


@pytest.mark.slow
def test_encrypted_upload_is_unreadable_on_disk_and_still_transcribed(
    sealed_stack: Stack,
) -> None:
    original = SPEECH.read_bytes()
    visit_id = upload(sealed_stack, SPEECH)
    path = stored(sealed_stack, visit_id)
    on_disk = path.read_bytes()
    assert on_disk.startswith(b"VLA1")
    assert all(original[i : i + 64] not in on_disk for i in range(0, len(original) - 64, 4096))
    with pytest.raises((AudioError, av.error.FFmpegError)):
        probe(path)

    visit = sealed_stack.wait(visit_id)
    assert visit["status"] == "done", visit["error"]
    segments = sealed_stack.client.get(f"/api/visits/{visit_id}/transcript").json()["segments"]
    truth = json.loads((FIXTURES / "en_short.mp3.truth.json").read_text())
    edits, n = wer_en(
        " ".join(t["text"] for t in truth["turns"]), " ".join(s["text"] for s in segments)
    )
    assert edits / n < 0.25
    leftovers = list((sealed_stack.settings.audio_dir / "tmp").iterdir())
    assert leftovers == []  # no decrypted copy, no staged upload


def test_audio_route_serves_identical_bytes_whole_and_by_range(sealed_stack: Stack) -> None:
    original = SPEECH.read_bytes()
    size = len(original)
    visit_id = upload(sealed_stack, SPEECH)
    url = f"/api/visits/{visit_id}/audio"

    whole = sealed_stack.client.get(url)
    assert whole.status_code == 200
    assert whole.content == original
    assert whole.headers["content-length"] == str(size)
    assert whole.headers["accept-ranges"] == "bytes"

    for header, start, end in [
        ("bytes=0-99", 0, 100),
        (f"bytes={CHUNK_BYTES - 2}-{CHUNK_BYTES + 1}", CHUNK_BYTES - 2, CHUNK_BYTES + 2),
        (f"bytes={CHUNK_BYTES}-", CHUNK_BYTES, size),
        ("bytes=-100", size - 100, size),
        (f"bytes=10-{size + 500}", 10, size),
    ]:
        part = sealed_stack.client.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.content == original[start:end], header
        assert part.headers["content-range"] == f"bytes {start}-{end - 1}/{size}"
        assert part.headers["content-length"] == str(end - start)
        assert part.headers["accept-ranges"] == "bytes"

    past = sealed_stack.client.get(url, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416
    assert past.json()["error"]["code"] == "range_not_satisfiable"
    assert past.headers["content-range"] == f"bytes */{size}"


def test_recording_stored_before_encryption_still_plays(sealed_stack: Stack) -> None:
    original = (FIXTURES / "tone.flac").read_bytes()
    visit_id = upload(sealed_stack, FIXTURES / "tone.flac")
    sealed_stack.wait(visit_id)
    stored(sealed_stack, visit_id).write_bytes(original)  # as kept before a key was set
    url = f"/api/visits/{visit_id}/audio"
    assert sealed_stack.client.get(url).content == original
    part = sealed_stack.client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == original[100:200]


def test_damaged_recording_is_refused_with_a_code(sealed_stack: Stack) -> None:
    visit_id = upload(sealed_stack, FIXTURES / "tone.ogg")
    sealed_stack.wait(visit_id)
    path = stored(sealed_stack, visit_id)
    damaged = bytearray(path.read_bytes())
    damaged[100] ^= 0xFF
    path.write_bytes(bytes(damaged))
    res = sealed_stack.client.get(f"/api/visits/{visit_id}/audio")
    assert res.status_code == 500
    assert res.json()["error"]["code"] == "audio_damaged"


def test_rekey_command_moves_every_recording_to_the_new_key(tmp_path: Path) -> None:
    old, new = AudioKey.generate(), AudioKey.generate()
    audio_dir = tmp_path / "audio"
    for visit_id, key in [("aa01", old), ("bb02", None)]:
        staged = audio_store.stage(audio_dir, [SPEECH.read_bytes()], max_bytes=10**9)
        audio_store.keep(audio_dir, staged, visit_id=visit_id, suffix=".mp3", key=key)
    env = {
        "VISITLENS_AUDIO_DIR": str(audio_dir),
        "VISITLENS_AUDIO_KEY": new.to_text(),
        "VISITLENS_AUDIO_OLD_KEYS": old.to_text(),
    }
    runner = CliRunner()
    first = runner.invoke(cli, ["audio", "rekey"], env=env)
    assert first.exit_code == 0, first.output
    assert "1 re-encrypted, 1 encrypted" in first.output
    assert new.to_text() not in first.output and old.to_text() not in first.output
    again = runner.invoke(cli, ["audio", "rekey"], env=env)
    assert "0 re-encrypted, 0 encrypted (were plain), 2 already" in again.output
    for path in audio_store.stored_files(audio_dir):
        data = audio_store.read_range(path, Keyring(new), start=0, end=10**9)
        assert data == SPEECH.read_bytes()


def test_rekey_command_needs_the_new_key(tmp_path: Path) -> None:
    env = {"VISITLENS_AUDIO_DIR": str(tmp_path), "VISITLENS_AUDIO_KEY": None}
    res = CliRunner().invoke(cli, ["audio", "rekey"], env=env)
    assert res.exit_code == 2 and "VISITLENS_AUDIO_KEY" in res.output


def test_keygen_prints_a_valid_key() -> None:
    res = CliRunner().invoke(cli, ["audio", "keygen"])
    assert res.exit_code == 0
    assert len(AudioKey.from_text(res.output).secret) == 32


def test_up_makes_one_private_key_and_keeps_it(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "embedded")
    env = embedded_audio_key(settings)
    key_file = tmp_path / "audio.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert AudioKey.from_text(env["VISITLENS_AUDIO_KEY"])
    assert embedded_audio_key(settings) == env
    configured = settings_for(tmp_path / "other", "embedded", audio_key=KEY.to_text())
    assert embedded_audio_key(configured) == {}
