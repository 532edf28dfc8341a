"""Which classifier weights a process uses: the version `visitlens train` last marked current in
the models folder (models/classifier/<version>/, named by models/classifier/CURRENT), else the
defaults that ship in prompts/classifier."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

SHIPPED = "classifier"  # prompts_dir/SHIPPED: the trained defaults that come with the code
VERSIONS = "classifier"  # models_dir/VERSIONS/<version>/
MARKER = "CURRENT"  # models_dir/VERSIONS/MARKER holds the current version's name
MANIFEST = "manifest.json"
LABEL_WEIGHTS = "weights.npz"  # the label classifier's (nlp/classify.py)
ACT_WEIGHTS = "commitments.npz"  # the commitment classifier's (nlp/commitments.py)
WEIGHT_FILES = (LABEL_WEIGHTS, ACT_WEIGHTS)


@dataclass(frozen=True)
class Manifest:
    version: str  # UTC time of training + hash of the weight files
    created_at: str  # ISO 8601, UTC
    files: dict[str, str]  # weight file name -> its sha256
    encoders: dict[str, list[str]]  # weight file name -> the sentence encoders it reads
    training_data: dict[str, str]  # weight file name -> hash of the data it was trained on


class BadVersion(ValueError):
    """A version folder that cannot be used: no manifest, a missing or changed weight file."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def staging_dir(models_dir: Path) -> Path:
    """A new empty folder next to the versions, for training to write its weight files into."""
    root = models_dir / VERSIONS
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".training-", dir=root))


def publish(
    staged: Path, *, encoders: dict[str, list[str]], training_data: dict[str, str]
) -> Manifest:
    """Turn a staging folder holding WEIGHT_FILES into a version and mark it current; the
    marker is replaced atomically, so a process reads either the old or the new name."""
    files = {name: _sha256(staged / name) for name in WEIGHT_FILES}
    now = datetime.now(UTC)
    digest = hashlib.sha256("".join(files[n] for n in WEIGHT_FILES).encode()).hexdigest()
    manifest = Manifest(
        version=f"{now:%Y%m%dT%H%M%SZ}-{digest[:12]}",
        created_at=now.isoformat(timespec="seconds"),
        files=files,
        encoders=encoders,
        training_data=training_data,
    )
    (staged / MANIFEST).write_text(json.dumps(asdict(manifest), indent=1), encoding="utf-8")
    target = staged.parent / manifest.version
    if target.exists():  # the same weights within the same second: keep the one there
        shutil.rmtree(staged)
    else:
        staged.rename(target)
    marker_tmp = staged.parent / f".{MARKER}.{os.getpid()}"
    marker_tmp.write_text(manifest.version + "\n", encoding="utf-8")
    os.replace(marker_tmp, staged.parent / MARKER)
    log.info("weights.published", version=manifest.version)
    return manifest


def read_version(folder: Path) -> Manifest:
    """The manifest of a version folder, its weight files checked against their hashes."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        manifest = Manifest(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise BadVersion(f"{folder / MANIFEST} is missing or unreadable ({exc})") from exc
    for name in WEIGHT_FILES:
        path = folder / name
        if not path.is_file() or _sha256(path) != manifest.files.get(name):
            raise BadVersion(f"{path} is missing or differs from its manifest")
    return manifest


def resolve(models_dir: Path, prompts_dir: Path) -> Path:
    """The folder whose weight files to load: the current version when it is sound, else the
    shipped defaults (logged, so a broken version is seen rather than silently used)."""
    root = models_dir / VERSIONS
    try:
        name = (root / MARKER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return prompts_dir / SHIPPED
    try:
        if not name or Path(name).name != name or name.startswith("."):
            raise BadVersion(f"{root / MARKER} names no version ({name!r})")
        read_version(root / name)
    except BadVersion as exc:
        log.warning("weights.version_unusable", version=name, reason=str(exc))
        return prompts_dir / SHIPPED
    return root / name


class CurrentWeights:
    """`resolve`, done again only when the marker file changed: one stat per call, so every
    process (API, worker) moves to a version another process published at its next request or
    step, and checks a version's hashes once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[Path, Path], tuple[tuple[int, int] | None, Path]] = {}

    def __call__(self, models_dir: Path, prompts_dir: Path) -> Path:
        marker = models_dir / VERSIONS / MARKER
        try:
            st = marker.stat()
            stamp: tuple[int, int] | None = (st.st_ino, st.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        key = (models_dir, prompts_dir)
        with self._lock:
            seen = self._seen.get(key)
            if seen is None or seen[0] != stamp:
                seen = (stamp, resolve(models_dir, prompts_dir))
                self._seen[key] = seen
            return seen[1]


current_weights = CurrentWeights()
