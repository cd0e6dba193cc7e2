"""Field-level encryption (AES-256-GCM with key ids) and blind indexes for lookups.

Token format: ``v1.<key_id>.<base64url(nonce || ciphertext+tag)>`` (no padding), pure ASCII
so it fits a text column. The associated data binds the token to its version, key id and
``context`` (the column, e.g. ``"borrower_profile.id_number"``), so a ciphertext copied to
another column or relabelled with another key id fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from marketplace.security.identity import normalise_id_number, normalise_mobile
from marketplace.settings import settings

__all__ = [
    "DecryptionError",
    "blind_index",
    "decrypt_bytes",
    "decrypt_field",
    "encrypt_bytes",
    "encrypt_field",
    "needs_rotation",
    "normalise_id_number",
    "normalise_mobile",
    "rotate",
]

_VERSION = "v1"
_NONCE_BYTES = 12
_KEY_ID = re.compile(r"[A-Za-z0-9_-]+")


class DecryptionError(Exception):
    """The token is malformed, tampered with, for another context, or its key is unknown."""


def _keys_or_settings(keys: Mapping[str, bytes] | None) -> Mapping[str, bytes]:
    return settings.data_keys if keys is None else keys


def _associated_data(key_id: str, context: str) -> bytes:
    return f"{_VERSION}.{key_id}.{context}".encode()


def encrypt_field(plaintext: str, *, context: str, keys: Mapping[str, bytes] | None = None) -> str:
    """Encrypt under the active (first) key. ``keys`` defaults to ``settings.data_keys``."""
    key_id, raw = _seal(plaintext.encode(), context, keys)
    body = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    return f"{_VERSION}.{key_id}.{body}"


def encrypt_bytes(
    plaintext: bytes, *, context: str, keys: Mapping[str, bytes] | None = None
) -> bytes:
    """Files (uploaded documents): the same AES-GCM, key ids and context binding as fields,
    as ``v1.<key_id>.`` followed by the raw nonce and ciphertext (no base64 for megabytes)."""
    key_id, raw = _seal(plaintext, context, keys)
    return f"{_VERSION}.{key_id}.".encode("ascii") + raw


def decrypt_bytes(token: bytes, *, context: str, keys: Mapping[str, bytes] | None = None) -> bytes:
    """The inverse of :func:`encrypt_bytes`; any failure is a :class:`DecryptionError`."""
    version, _, rest = token.partition(b".")
    key_id, _, raw = rest.partition(b".")
    try:
        key_text = key_id.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DecryptionError("malformed encrypted file") from exc
    if version != _VERSION.encode() or not _KEY_ID.fullmatch(key_text):
        raise DecryptionError("malformed encrypted file")
    return _open(key_text, raw, context, keys)


def _seal(plaintext: bytes, context: str, keys: Mapping[str, bytes] | None) -> tuple[str, bytes]:
    if not context:
        raise ValueError("context is required")
    keys = _keys_or_settings(keys)
    if not keys:
        raise ValueError("no data encryption key configured")
    key_id, key = next(iter(keys.items()))
    if not _KEY_ID.fullmatch(key_id):
        raise ValueError(f"key id {key_id!r} must match [A-Za-z0-9_-]+")
    nonce = os.urandom(_NONCE_BYTES)
    return key_id, nonce + AESGCM(key).encrypt(nonce, plaintext, _associated_data(key_id, context))


def _split(token: str) -> tuple[str, bytes]:
    version, _, rest = token.partition(".")
    key_id, _, body = rest.partition(".")
    if version != _VERSION or not _KEY_ID.fullmatch(key_id) or not body:
        raise DecryptionError("malformed encrypted field")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("malformed encrypted field") from exc
    # Re-encoding must give the same text, so each token has exactly one spelling.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != body:
        raise DecryptionError("malformed encrypted field")
    return key_id, raw


def decrypt_field(token: str, *, context: str, keys: Mapping[str, bytes] | None = None) -> str:
    """Decrypt with the key named in the token; any failure is a :class:`DecryptionError`."""
    key_id, raw = _split(token)
    return _open(key_id, raw, context, keys).decode()


def _open(key_id: str, raw: bytes, context: str, keys: Mapping[str, bytes] | None) -> bytes:
    key = _keys_or_settings(keys).get(key_id)
    if key is None:
        raise DecryptionError(f"unknown data key id {key_id!r}")
    if len(raw) < _NONCE_BYTES + 16:
        raise DecryptionError("malformed encrypted field")
    nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, sealed, _associated_data(key_id, context))
    except InvalidTag as exc:
        raise DecryptionError("encrypted field failed authentication") from exc


def needs_rotation(token: str, *, keys: Mapping[str, bytes] | None = None) -> bool:
    """True when the token is not under the active key (cheap: nothing is decrypted)."""
    key_id, _ = _split(token)
    return key_id != next(iter(_keys_or_settings(keys)), None)


def rotate(token: str, context: str, *, keys: Mapping[str, bytes] | None = None) -> str:
    """The same plaintext under the active key.

    A token already under the active key is returned unchanged, but only after it has been
    checked to decrypt: a tampered token raises whichever key it names.
    """
    plaintext = decrypt_field(token, context=context, keys=keys)
    if not needs_rotation(token, keys=keys):
        return token
    return encrypt_field(plaintext, context=context, keys=keys)


def blind_index(value: str, *, purpose: str, key: bytes | None = None) -> str:
    """Hex HMAC-SHA256 of an already normalised ``value`` under a per-``purpose`` subkey.

    Equal values give equal indexes within one purpose, and unrelated ones across purposes.
    ``key`` defaults to ``settings.blind_index_key``, which does not change when data keys
    rotate. Normalise first (:func:`normalise_id_number`, :func:`normalise_mobile`).
    """
    if not purpose:
        raise ValueError("purpose is required")
    root = settings.blind_index_key if key is None else key
    subkey = hmac.new(root, b"loanmart.blind-index." + purpose.encode(), hashlib.sha256).digest()
    return hmac.new(subkey, value.encode(), hashlib.sha256).hexdigest()
