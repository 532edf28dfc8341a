"""Rep voice enrolment in the workers: the API stages the sample and waits while a worker turns it
into a voice print on the speaker encoder it already holds (the API loads no audio model)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from celery import Celery
from celery.exceptions import TimeoutError as ResultTimeout

from knowledge import audio_store
from knowledge.errors import InvalidInput, Unavailable, UnsupportedMedia
from knowledge.settings import Settings
from nlp.audio import AudioError, decode_chunks

TASK = "voice.voiceprint"
POLL_S = 0.05


def work(settings: Settings, staged_name: str, deadline: float) -> dict[str, Any]:
    """{"voiceprint": [256 floats]} of a staged sample, or {"error": {code, message}}."""
    from nlp.voiceprint import load_encoder, voiceprint  # torch: in workers only, not the API

    if time.time() > deadline:
        return {"error": {"code": "timeout", "message": "Nobody is waiting for it any more."}}
    path = settings.audio_dir / audio_store.TMP / Path(staged_name).name
    if not path.is_file():
        return {"error": {"code": "audio_missing", "message": "The sample is gone; send it again."}}
    try:
        samples = np.concatenate([c for _, c in decode_chunks(path)])
        vector = voiceprint(load_encoder(), samples)
    except AudioError as e:
        return {"error": {"code": e.code, "message": e.message}}
    except ValueError as e:
        return {"error": {"code": "too_little_speech", "message": str(e)}}
    return {"voiceprint": vector.tolist()}


def voiceprint_of(app: Celery, staged_name: str, *, timeout_s: float) -> np.ndarray:
    """Ask a worker for the voice print of a staged sample and wait for it; raises the worker's
    refusal as InvalidInput / UnsupportedMedia, or Unavailable when no worker answers in time."""
    deadline = time.time() + timeout_s
    result = app.send_task(
        TASK,
        args=[staged_name, deadline],
        task_id=f"voice:{uuid.uuid4().hex}",
        expires=timeout_s,
    )
    try:
        value: dict[str, Any] = result.get(timeout=timeout_s, interval=POLL_S)
    except ResultTimeout as e:
        raise Unavailable(
            "No worker made the voice print in time (they may be busy); try again later.",
            code="timeout",
        ) from e
    finally:
        result.forget()
    if "error" in value:
        code, message = value["error"]["code"], value["error"]["message"]
        if code == "not_audio":
            raise UnsupportedMedia(message, code=code)
        if code in ("timeout", "audio_missing"):
            raise Unavailable(message, code=code)
        raise InvalidInput(message, code=code)
    return np.asarray(value["voiceprint"], dtype=np.float32)
