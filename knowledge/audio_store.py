"""Recordings on local disk, one file per visit, written atomically, sealed with the audio key
when one is set (format in knowledge/audio_crypto.py)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from knowledge.audio_crypto import (
    CHUNK_BYTES,
    AudioKey,
    Header,
    Keyring,
    SealedAudioError,
    check_size,
    read_header,
    seal,
    unseal_range,
)
from knowledge.errors import InvalidInput, TooLarge

CHUNK = 1024 * 1024
TMP = "tmp"  # staged uploads, decrypted copies for the decoders, rekey output
TMP_MAX_AGE_S = 12 * 3600  # older entries in TMP were left by a crash: no step lasts so long


@dataclass(frozen=True)
class StagedFile:
    path: Path  # a temporary file in the store's folder
    sha256: str
    size_bytes: int


def stage(audio_dir: Path, chunks: Iterable[bytes], *, max_bytes: int) -> StagedFile:
    """Copy an upload to a temporary file while hashing it; refuses empty and oversized files."""
    tmp_dir = audio_dir / TMP
    tmp_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, name = tempfile.mkstemp(dir=tmp_dir, suffix=".upload")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(
                        f"The file is larger than the limit of {max_bytes // (1024 * 1024)} MB."
                    )
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    if size == 0:
        Path(name).unlink(missing_ok=True)
        raise InvalidInput("The uploaded file is empty.", code="empty_file")
    return StagedFile(Path(name), digest.hexdigest(), size)


def keep(
    audio_dir: Path, staged: StagedFile, *, visit_id: str, suffix: str, key: AudioKey | None
) -> Path:
    """Put a staged file in its final place, named by visit id: sealed with `key` (the staged
    plaintext is deleted at once), or moved as it is when there is no key."""
    final = audio_dir / visit_id[:2] / f"{visit_id}{suffix.lower()}"
    final.parent.mkdir(parents=True, exist_ok=True)
    if key is None:
        os.replace(staged.path, final)
        return final
    with staged.path.open("rb") as src:
        _write_sealed(audio_dir, final, _read_chunks(src), key=key, plain_bytes=staged.size_bytes)
    staged.path.unlink(missing_ok=True)
    return final


def discard(staged: StagedFile) -> None:
    staged.path.unlink(missing_ok=True)


def delete(path: str | None) -> None:
    if path:
        Path(path).unlink(missing_ok=True)


def _read_chunks(f: BinaryIO) -> Iterator[bytes]:
    while chunk := f.read(CHUNK_BYTES):
        yield chunk


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_sealed(
    audio_dir: Path, final: Path, chunks: Iterable[bytes], *, key: AudioKey, plain_bytes: int
) -> None:
    """Seal into a temporary file, make it durable, then put it in place atomically."""
    tmp_dir = audio_dir / TMP
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, suffix=".sealing")
    try:
        with os.fdopen(fd, "wb") as out:
            seal(chunks, out, key=key, plain_bytes=plain_bytes)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, final)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    _fsync_dir(final.parent)


def sealed_header(path: Path) -> Header | None:
    """The header of an encrypted recording, checked against the file's size; None when it is
    stored in plain (from before encryption, or without a key)."""
    with path.open("rb") as f:
        header = read_header(f, name=path.name)
        if header is not None:
            check_size(f, header, name=path.name)
        return header


def is_sealed(path: Path) -> bool:
    return sealed_header(path) is not None


def plain_size(path: Path) -> int:
    """The size in bytes of the recording itself: what a player sees; no key needed."""
    header = sealed_header(path)
    return path.stat().st_size if header is None else header.plain_bytes


def iter_range(path: Path, keys: Keyring, *, start: int, end: int) -> Iterator[bytes]:
    """Bytes [start, end) of the recording, decrypted chunk by chunk when it is sealed; raises
    a SealedAudioError (unknown key, damaged, cut short) at the first bad chunk."""
    with path.open("rb") as f:
        header = read_header(f, name=path.name)
        if header is None:
            f.seek(start)
            left = end - start
            while left > 0 and (chunk := f.read(min(CHUNK_BYTES, left))):
                left -= len(chunk)
                yield chunk
            return
        check_size(f, header, name=path.name)
        key = keys.find(header.key_id, name=path.name)
        yield from unseal_range(f, header, key, start=start, end=end, name=path.name)


def read_range(path: Path, keys: Keyring, *, start: int, end: int) -> bytes:
    return b"".join(iter_range(path, keys, start=start, end=end))


@contextmanager
def decrypted(audio_dir: Path, path: Path, keys: Keyring) -> Iterator[Path]:
    """A path the decoders (ffmpeg, faster-whisper) can open: the recording itself when stored
    in plain, else a decrypted copy under the same name in a private folder in audio_dir/tmp,
    removed on exit. Where the system has /proc (Linux) the copy has no name on disk, only an
    open file the name links to: a process killed mid-step leaves no plain copy behind."""
    if not is_sealed(path):
        yield path
        return
    tmp_dir = audio_dir / TMP
    tmp_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=tmp_dir, suffix=".plain"))  # mode 0700
    fd = -1
    try:
        copy = folder / path.name
        fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        if _PROC_FD.is_dir():
            os.unlink(copy)
            os.symlink(f"/proc/{os.getpid()}/fd/{fd}", copy)
        with os.fdopen(os.dup(fd), "wb") as out:
            for chunk in iter_range(path, keys, start=0, end=plain_size(path)):
                out.write(chunk)
        yield copy
    finally:
        if fd >= 0:
            os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)


_PROC_FD = Path("/proc/self/fd")


@dataclass(frozen=True)
class RekeyCounts:
    reencrypted: int  # were sealed with an old key
    encrypted: int  # were stored in plain
    unchanged: int  # already sealed with the new key
    failed: tuple[Path, ...]  # unreadable (unknown key, damaged): left as they were


def stored_files(audio_dir: Path) -> list[Path]:
    """Every stored recording (audio_dir/<2 chars>/<visit id><suffix>), not the tmp folder."""
    return sorted(p for p in audio_dir.glob("*/*") if p.is_file() and p.parent.name != TMP)


def _rekey_one(audio_dir: Path, path: Path, keys: Keyring, new_key: AudioKey) -> str:
    """Seal one stored file with new_key; says which RekeyCounts field it counts in."""
    with path.open("rb") as f:
        header = read_header(f, name=path.name)
    if header is not None and header.key_id == new_key.id:
        return "unchanged"
    size = plain_size(path)
    chunks = iter_range(path, keys, start=0, end=size)
    _write_sealed(audio_dir, path, chunks, key=new_key, plain_bytes=size)
    return "encrypted" if header is None else "reencrypted"


def rekey(audio_dir: Path, *, new_key: AudioKey, old_keys: Iterable[AudioKey]) -> RekeyCounts:
    """Seal every stored recording with `new_key`: re-encrypt those under an old key, encrypt
    plain ones, skip those done. Each file is replaced atomically, so a crash leaves every file
    readable and running it again finishes the job."""
    keys = Keyring(new_key, tuple(old_keys))
    counts = Counter[str]()
    failed: list[Path] = []
    for path in stored_files(audio_dir):
        try:
            counts[_rekey_one(audio_dir, path, keys, new_key)] += 1
        except SealedAudioError:
            failed.append(path)
        except FileNotFoundError:  # deleted with its visit meanwhile
            continue
    return RekeyCounts(
        reencrypted=counts["reencrypted"],
        encrypted=counts["encrypted"],
        unchanged=counts["unchanged"],
        failed=tuple(failed),
    )


def sweep_tmp(audio_dir: Path, *, older_than_s: float) -> int:
    """Remove what crashed processes left in audio_dir/tmp (staged uploads, decrypted copies);
    returns how many entries were removed."""
    tmp_dir = audio_dir / TMP
    if not tmp_dir.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - older_than_s
    for entry in tmp_dir.iterdir():
        try:
            if entry.lstat().st_mtime >= cutoff:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed
