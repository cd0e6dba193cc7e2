"""The only reader of the environment. Everything else imports `settings`."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Demo-only fallbacks: used when the variables are unset (make demo / make test).
# Production must set SECRET_KEY and DATA_KEYS; `Settings.check_production` enforces it.
_DEMO_SECRET = "loanmart-demo-secret-do-not-use-in-production"  # noqa: S105


def _parse_data_keys(raw: str) -> dict[str, bytes]:
    """DATA_KEYS="k2:base64key,k1:base64key" — the first key encrypts, all keys decrypt."""
    keys: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key_id, _, b64 = part.partition(":")
        key = base64.b64decode(b64)
        if len(key) != 32:
            raise ValueError(f"DATA_KEYS entry {key_id!r} must be 32 bytes (AES-256)")
        keys[key_id] = key
    return keys


def _demo_data_keys() -> str:
    key = hashlib.sha256(b"loanmart-demo-data-key").digest()
    return "demo1:" + base64.b64encode(key).decode()


@dataclass(frozen=True)
class Settings:
    environment: str
    database_url: str | None
    redis_url: str | None
    meilisearch_url: str | None
    meilisearch_key: str | None
    secret_key: str
    data_keys: dict[str, bytes]
    var_dir: Path
    port: int
    host: str
    web_concurrency: int
    base_url: str
    demo_mode: bool
    trusted_proxies: frozenset[str] = field(default_factory=frozenset)
    # Outbox delivery: retries back off exponentially (full jitter) from base to cap;
    # after max attempts a row is parked as dead. A dispatched row is re-sent when its
    # lease ends without a result (Redis lost it, or the worker died).
    outbox_max_attempts: int = 8
    outbox_retry_base_seconds: float = 2.0
    outbox_retry_max_seconds: float = 600.0
    outbox_lease_seconds: float = 60.0
    outbox_job_timeout_seconds: float = 120.0
    # /metrics answers loopback clients, or anyone bearing this token when it is set.
    metrics_token: str | None = None
    # Files: a local directory (default, under var/) or an S3-compatible bucket when
    # STORAGE_URL is s3://bucket/prefix (endpoint and keys below; unset keys fall back to
    # boto3's own credential chain, e.g. an instance role).
    storage_url: str | None = None
    storage_endpoint: str | None = None
    storage_region: str | None = None
    storage_access_key: str | None = None
    storage_secret_key: str | None = None

    @property
    def active_data_key_id(self) -> str:
        return next(iter(self.data_keys))

    @property
    def blind_index_key(self) -> bytes:
        # Derived, so rotating encryption keys never changes lookup hashes.
        return hashlib.sha256(b"blind-index:" + self.secret_key.encode()).digest()

    @property
    def search_dir(self) -> Path:
        return self.var_dir / "search"

    @property
    def files_dir(self) -> Path:
        return self.var_dir / "files"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def check_production(self) -> None:
        if self.environment == "production" and (
            self.secret_key == _DEMO_SECRET or "demo1" in self.data_keys
        ):
            raise RuntimeError("SECRET_KEY and DATA_KEYS must be set in production")


def load_settings(env: dict[str, str] | os._Environ[str] = os.environ) -> Settings:
    port = int(env.get("PORT", "8000"))
    return Settings(
        environment=env.get("LOANMART_ENV", "development"),
        database_url=env.get("DATABASE_URL") or None,
        redis_url=env.get("REDIS_URL") or None,
        meilisearch_url=env.get("MEILISEARCH_URL") or None,
        meilisearch_key=env.get("MEILISEARCH_KEY") or None,
        secret_key=env.get("SECRET_KEY", _DEMO_SECRET),
        data_keys=_parse_data_keys(env.get("DATA_KEYS") or _demo_data_keys()),
        var_dir=Path(env.get("LOANMART_VAR_DIR", str(PROJECT_ROOT / "var"))),
        port=port,
        host=env.get("HOST", "127.0.0.1"),
        web_concurrency=int(env.get("WEB_CONCURRENCY", "1")),
        base_url=env.get("BASE_URL", f"http://127.0.0.1:{port}"),
        demo_mode=env.get("LOANMART_DEMO", "1" if env.get("LOANMART_ENV") != "production" else "0")
        == "1",
        trusted_proxies=frozenset(
            filter(None, (p.strip() for p in env.get("TRUSTED_PROXIES", "").split(",")))
        ),
        outbox_max_attempts=max(1, int(env.get("OUTBOX_MAX_ATTEMPTS", "8"))),
        outbox_retry_base_seconds=float(env.get("OUTBOX_RETRY_BASE_SECONDS", "2")),
        outbox_retry_max_seconds=float(env.get("OUTBOX_RETRY_MAX_SECONDS", "600")),
        outbox_lease_seconds=float(env.get("OUTBOX_LEASE_SECONDS", "60")),
        outbox_job_timeout_seconds=float(env.get("OUTBOX_JOB_TIMEOUT_SECONDS", "120")),
        metrics_token=env.get("METRICS_TOKEN") or None,
        storage_url=env.get("STORAGE_URL") or None,
        storage_endpoint=env.get("STORAGE_ENDPOINT") or None,
        storage_region=env.get("STORAGE_REGION") or None,
        storage_access_key=env.get("STORAGE_ACCESS_KEY") or None,
        storage_secret_key=env.get("STORAGE_SECRET_KEY") or None,
    )


settings = load_settings()
