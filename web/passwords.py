"""Password hashing with Argon2id, a slow memory-hard KDF, always off the event loop.

One Argon2 verify takes tens of milliseconds of CPU and 64 MiB: run on the loop it stalls every lesson
on the node. The async functions run it in a small dedicated thread pool (argon2-cffi releases the GIL),
and an unknown username is verified against a dummy hash so it costs the same as a known one.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id, 64 MiB, t=3: RFC 9106's second recommended profile
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("no such user: a dummy so that unknown names cost a real verify")


async def hash_password_async(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool, hash_password, password)


async def verify_password_async(stored: str | None, password: str) -> bool:
    """Verify in the pool; `stored=None` (unknown user) verifies against a dummy hash and fails."""
    loop = asyncio.get_running_loop()
    if stored is None:
        dummy = await loop.run_in_executor(_pool, _dummy_hash)
        await loop.run_in_executor(_pool, verify_password, dummy, password)
        return False
    return await loop.run_in_executor(_pool, verify_password, stored, password)
