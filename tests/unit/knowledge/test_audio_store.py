"""The audio store with a key: sealed on keep, read back by range or as a decrypted copy, legacy
plain files still readable, and rekey (old key to new, plain to sealed, safe to re-run)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from knowledge import audio_store
from knowledge.audio_crypto import CHUNK_BYTES, AudioKey, AudioKeyUnknown, Keyring

OLD, NEW = AudioKey.generate(), AudioKey.generate()
AUDIO = (Path(__file__).parents[2] / "fixtures" / "en_short.mp3").read_bytes()


def kept(audio_dir: Path, data: bytes, key: AudioKey | None, visit_id: str = "ab12") -> Path:
    staged = audio_store.stage(audio_dir, [data[:1000], data[1000:]], max_bytes=10**9)
    path = audio_store.keep(audio_dir, staged, visit_id=visit_id, suffix=".MP3", key=key)
    assert not staged.path.exists()
    return path


def test_keep_with_a_key_seals_the_file_and_leaves_no_plain_copy(tmp_path: Path) -> None:
    path = kept(tmp_path, AUDIO, NEW)
    assert path == tmp_path / "ab" / "ab12.mp3"
    stored = path.read_bytes()
    assert stored.startswith(b"VLA1") and AUDIO[:4096] not in stored
    assert list((tmp_path / "tmp").iterdir()) == []
    assert audio_store.is_sealed(path) and audio_store.plain_size(path) == len(AUDIO)
    assert audio_store.read_range(path, Keyring(NEW), start=0, end=len(AUDIO)) == AUDIO


def test_keep_without_a_key_stores_in_plain_as_before(tmp_path: Path) -> None:
    path = kept(tmp_path, AUDIO, None)
    assert path.read_bytes() == AUDIO and not audio_store.is_sealed(path)


@pytest.mark.parametrize("key", [NEW, None])
@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 100), (CHUNK_BYTES - 1, CHUNK_BYTES + 1), (CHUNK_BYTES, 3 * CHUNK_BYTES), (5, 10**9)],
)
def test_ranges_read_the_same_bytes_sealed_or_plain(
    tmp_path: Path, key: AudioKey | None, start: int, end: int
) -> None:
    path = kept(tmp_path, AUDIO, key)
    assert audio_store.read_range(path, Keyring(NEW), start=start, end=end) == AUDIO[start:end]


def test_decrypted_copy_is_private_and_gone_after_use(tmp_path: Path) -> None:
    path = kept(tmp_path, AUDIO, NEW)
    with audio_store.decrypted(tmp_path, path, Keyring(NEW)) as plain:
        assert plain.name == path.name and plain.parent.parent == tmp_path / "tmp"
        assert plain.read_bytes() == AUDIO
        assert plain.stat().st_mode & 0o077 == 0 and plain.parent.stat().st_mode & 0o077 == 0
    assert not plain.exists() and list((tmp_path / "tmp").iterdir()) == []


def test_decrypted_copy_is_removed_when_the_reader_fails(tmp_path: Path) -> None:
    path = kept(tmp_path, AUDIO, NEW)
    with pytest.raises(RuntimeError), audio_store.decrypted(tmp_path, path, Keyring(NEW)):
        raise RuntimeError("decoder crashed")
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_a_reader_killed_mid_step_leaves_no_plain_copy(tmp_path: Path) -> None:
    path = kept(tmp_path, AUDIO, NEW)
    ready = tmp_path / "ready"
    pid = os.fork()
    if pid == 0:  # the worker: holds the decrypted copy until it is killed
        with audio_store.decrypted(tmp_path, path, Keyring(NEW)) as plain:
            ready.write_text(str(plain))
            time.sleep(60)
        os._exit(0)
    deadline = time.monotonic() + 20
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    left = [p for p in (tmp_path / "tmp").rglob("*") if p.is_file()]  # a link to a dead fd: none
    assert ready.exists() and left == []


def test_plain_recording_is_read_in_place(tmp_path: Path) -> None:
    path = kept(tmp_path, AUDIO, None)
    with audio_store.decrypted(tmp_path, path, Keyring(NEW)) as plain:
        assert plain == path


def test_decrypting_without_the_key_is_a_clear_error(tmp_path: Path) -> None:
    path = kept(tmp_path, AUDIO, OLD)
    with pytest.raises(AudioKeyUnknown), audio_store.decrypted(tmp_path, path, Keyring(NEW)):
        pass
    assert list((tmp_path / "tmp").iterdir()) == []


def test_rekey_moves_old_and_plain_recordings_to_the_new_key(tmp_path: Path) -> None:
    old = kept(tmp_path, AUDIO, OLD, "aa01")
    plain = kept(tmp_path, AUDIO[:5000], None, "bb02")
    done = kept(tmp_path, AUDIO[:7000], NEW, "cc03")
    before = done.read_bytes()

    counts = audio_store.rekey(tmp_path, new_key=NEW, old_keys=[OLD])
    assert (counts.reencrypted, counts.encrypted, counts.unchanged) == (1, 1, 1)
    assert counts.failed == ()
    only_new = Keyring(NEW)
    assert audio_store.read_range(old, only_new, start=0, end=len(AUDIO)) == AUDIO
    assert audio_store.read_range(plain, only_new, start=0, end=5000) == AUDIO[:5000]
    assert done.read_bytes() == before  # not rewritten
    assert list((tmp_path / "tmp").iterdir()) == []

    again = audio_store.rekey(tmp_path, new_key=NEW, old_keys=[OLD])
    assert (again.reencrypted, again.encrypted, again.unchanged) == (0, 0, 3)


def test_rekey_leaves_recordings_of_unknown_keys_as_they_are(tmp_path: Path) -> None:
    lost = kept(tmp_path, AUDIO, AudioKey.generate(), "dd04")
    before = lost.read_bytes()
    counts = audio_store.rekey(tmp_path, new_key=NEW, old_keys=[OLD])
    assert counts.failed == (lost,) and lost.read_bytes() == before


def test_rekey_after_a_crash_finishes_the_job(tmp_path: Path) -> None:
    """A crash leaves at most a sealed temporary file; every stored file stays whole."""
    path = kept(tmp_path, AUDIO, OLD)
    (tmp_path / "tmp" / "leftover.sealing").write_bytes(b"VLA1 half written")
    counts = audio_store.rekey(tmp_path, new_key=NEW, old_keys=[OLD])
    assert counts.reencrypted == 1
    assert audio_store.read_range(path, Keyring(NEW), start=0, end=len(AUDIO)) == AUDIO


def test_sweep_removes_only_old_leftovers(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    (tmp / "old.plain").mkdir(parents=True)
    (tmp / "old.plain" / "v.mp3").write_bytes(b"x")
    (tmp / "old.upload").write_bytes(b"x")
    (tmp / "new.upload").write_bytes(b"x")
    past = time.time() - 7200
    for name in ("old.plain", "old.upload"):
        os.utime(tmp / name, (past, past))
    assert audio_store.sweep_tmp(tmp_path, older_than_s=3600) == 2
    assert [p.name for p in tmp.iterdir()] == ["new.upload"]
