"""The one storage interface for files (ARCHITECTURE rule 8).

`put` / `get` / `delete` by key. Every file is encrypted (AES-GCM, the security module's
`encrypt_bytes`) with a context bound to its key before it reaches the adapter, so a
file copied to another key, or read straight from the disk or the bucket, is useless.
Keys are made by `new_key` from a fixed prefix and random hex: they never carry a
name, a phone number or anything else personal, and a key that could leave the storage
root (`..`, absolute paths, odd characters) is refused.

Adapters: a local directory under the var dir (default) and an S3-compatible bucket when
`STORAGE_URL=s3://bucket/prefix` (boto3, run off the event loop).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import tempfile
from functools import cache, partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from marketplace.db import on_rollback
from marketplace.errors import NotFound
from marketplace.security import decrypt_bytes, encrypt_bytes
from marketplace.settings import Settings, settings

log = logging.getLogger(__name__)

# Lower-case segments of letters, digits, '-' and '_' (a dot only inside a segment).
_KEY = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*(?:/[a-z0-9_-]+(?:\.[a-z0-9_-]+)*)*")
KEY_MAX_LENGTH = 200


class StoredFileMissing(NotFound):
    """No file under that key (deleted, or never stored)."""


class StorageAdapter(Protocol):
    async def put(self, key: str, data: bytes, *, content_type: str) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def delete(self, key: str) -> None: ...


def check_key(key: str) -> str:
    if len(key) > KEY_MAX_LENGTH or not _KEY.fullmatch(key):
        raise ValueError(f"invalid storage key {key!r}")
    return key


def new_key(prefix: str) -> str:
    """A fresh key under `prefix` (e.g. "partners/12"): unguessable and impersonal."""
    return check_key(f"{prefix}/{secrets.token_hex(16)}")


class LocalDirectory:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        # Belt and braces: the key pattern already rules out leaving the root.
        if not path.is_relative_to(self.root):
            raise ValueError(f"invalid storage key {key!r}")
        return path

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        # Written whole under a temporary name, then renamed: a reader never sees half.
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError as exc:
            raise StoredFileMissing() from exc

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


class S3Bucket:
    """An S3-compatible bucket (AWS, MinIO, OSS/COS in S3 mode) under a key prefix."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    def _name(self, key: str) -> str:
        key = check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=self._name(key),
            Body=data,
            # The body is ciphertext; the plaintext's type is kept for reference only.
            ContentType="application/octet-stream",
            Metadata={"plain-content-type": content_type},
        )

    async def get(self, key: str) -> bytes:
        try:
            answer = await asyncio.to_thread(
                self.client.get_object, Bucket=self.bucket, Key=self._name(key)
            )
        except self.client.exceptions.NoSuchKey as exc:
            raise StoredFileMissing() from exc
        return await asyncio.to_thread(answer["Body"].read)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._name(key))


def make_adapter(config: Settings) -> StorageAdapter:
    if not config.storage_url:
        return LocalDirectory(config.files_dir)
    url = urlparse(config.storage_url)
    if url.scheme != "s3" or not url.netloc:
        raise ValueError("STORAGE_URL must look like s3://bucket/prefix")
    import boto3  # only deployments with a bucket load it

    client = boto3.client(
        "s3",
        endpoint_url=config.storage_endpoint,
        region_name=config.storage_region,
        aws_access_key_id=config.storage_access_key,
        aws_secret_access_key=config.storage_secret_key,
    )
    return S3Bucket(url.netloc, url.path, client)


_adapter: StorageAdapter | None = None


def use_adapter(adapter: StorageAdapter | None) -> None:
    """Install an adapter (tests); None goes back to the one the settings choose."""
    global _adapter
    _adapter = adapter


@cache
def _configured() -> StorageAdapter:
    return make_adapter(settings)


def adapter() -> StorageAdapter:
    return _adapter or _configured()


def _context(key: str) -> str:
    return f"storage:{key}"


async def put(key: str, data: bytes, *, content_type: str) -> None:
    """Store a file. Inside a transaction, the file goes again if it rolls back: no row
    can point at it then (outside one, the caller discards it when its save fails)."""
    await adapter().put(
        check_key(key), encrypt_bytes(data, context=_context(key)), content_type=content_type
    )
    on_rollback(partial(discard, key))


async def get(key: str) -> bytes:
    return decrypt_bytes(await adapter().get(check_key(key)), context=_context(key))


async def delete(key: str) -> None:
    await adapter().delete(check_key(key))


async def discard(key: str) -> None:
    """Delete a file nothing points at any more (replaced, or stored for a save that
    failed). Called after the commit or the rollback, so a failure here is logged and
    leaves only an orphan file, never a broken record."""
    try:
        await delete(key)
    except Exception:  # noqa: BLE001 - the record's own change has happened
        log.warning("stored file %s not deleted", key, exc_info=True)
