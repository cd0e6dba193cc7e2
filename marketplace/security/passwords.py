"""Password hashing (argon2id) and the password strength rule."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from marketplace.i18n import _

__all__ = [
    "DUMMY_HASH",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "hash_password",
    "hash_password_async",
    "make_password_hasher",
    "needs_rehash",
    "use_password_hasher",
    "validate_password_strength",
    "verify_dummy",
    "verify_dummy_async",
    "verify_password",
    "verify_password_async",
]

MIN_PASSWORD_LENGTH = 8
# Bounded so a megabyte "password" cannot be used to burn CPU on every login attempt.
MAX_PASSWORD_LENGTH = 128

# A hash of a random, discarded password made with the default parameters below. Verifying
# against it costs the same as a real verification, so "no such account" is not faster.
DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$xqhjVR/aso4UrgEepvn8Ag$gwPjkMxDs0SAFZEIUyh0KMjcWgzAMnY26tSDmCJ1URE"

_LETTER = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"[0-9]")


def make_password_hasher(
    *, time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 4
) -> PasswordHasher:
    """argon2id hasher; the defaults are RFC 9106's low-memory profile (64 MiB, t=3, p=4).

    Tests pass tiny costs (e.g. ``time_cost=1, memory_cost=8, parallelism=1``) and install
    the result with :func:`use_password_hasher`.
    """
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


_default_hasher = make_password_hasher()
_hasher = _default_hasher
_dummy_hash = DUMMY_HASH


def use_password_hasher(hasher: PasswordHasher | None) -> None:
    """Install ``hasher`` for every function here; ``None`` restores the default."""
    global _hasher, _dummy_hash
    _hasher = hasher or _default_hasher
    _dummy_hash = DUMMY_HASH if _hasher is _default_hasher else ""


def hash_password(plain: str) -> str:
    return _hasher.hash(plain)


def verify_password(password_hash: str, plain: str) -> bool:
    """True only if ``plain`` matches; a mismatch or a malformed hash is simply False."""
    try:
        return _hasher.verify(password_hash, plain)
    except (VerificationError, InvalidHashError, ValueError, TypeError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters (or is unreadable) than today's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


def verify_dummy() -> None:
    """Spend the time of one verification; call it when the account does not exist."""
    global _dummy_hash
    if not _dummy_hash:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(32))
    verify_password(_dummy_hash, secrets.token_urlsafe(16))


# argon2id costs tens of milliseconds of CPU and releases the GIL: run it in threads so a
# login flood queues here instead of stalling the event loop (and every other page). The
# pool is bounded so the flood cannot take more than a few cores either.
_T = TypeVar("_T")
_pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="argon2")


async def _off_loop(function: Callable[..., _T], *args: str) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_pool, function, *args)


async def hash_password_async(plain: str) -> str:
    return await _off_loop(hash_password, plain)


async def verify_password_async(password_hash: str, plain: str) -> bool:
    return await _off_loop(verify_password, password_hash, plain)


async def verify_dummy_async() -> None:
    await _off_loop(verify_dummy)


def validate_password_strength(plain: str) -> str | None:
    """The (translated) reason the password is too weak, or None if it is acceptable."""
    if len(plain) < MIN_PASSWORD_LENGTH:
        return _("密码至少需要{count}个字符", count=MIN_PASSWORD_LENGTH)
    if len(plain) > MAX_PASSWORD_LENGTH:
        return _("密码不能超过{count}个字符", count=MAX_PASSWORD_LENGTH)
    if not (_LETTER.search(plain) and _DIGIT.search(plain)):
        return _("密码必须同时包含字母和数字")
    return None
