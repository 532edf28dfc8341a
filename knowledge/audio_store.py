"""Recordings on local disk, one file per visit, written atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from knowledge.errors import InvalidInput, TooLarge

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StagedFile:
    path: Path  # a temporary file in the store's folder
    sha256: str
    size_bytes: int


def stage(audio_dir: Path, chunks: Iterable[bytes], *, max_bytes: int) -> StagedFile:
    """Copy an upload to a temporary file while hashing it; refuses empty and oversized files."""
    tmp_dir = audio_dir / "tmp"
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


def keep(audio_dir: Path, staged: StagedFile, *, visit_id: str, suffix: str) -> Path:
    """Move a staged file to its final place, named by visit id."""
    final = audio_dir / visit_id[:2] / f"{visit_id}{suffix.lower()}"
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged.path, final)
    return final


def discard(staged: StagedFile) -> None:
    staged.path.unlink(missing_ok=True)


def delete(path: str | None) -> None:
    if path:
        Path(path).unlink(missing_ok=True)
