"""Prediction ids: unique and sortable by creation time (ULID layout, Crockford base32)."""

from __future__ import annotations

import base64
import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_FROM_RFC4648 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET.encode())


def _time_part(millis: int) -> str:
    """The first 10 characters: 48 bits of milliseconds (two leading zero bits)."""
    chars = []
    for _ in range(10):
        millis, index = divmod(millis, 32)
        chars.append(_ALPHABET[index])
    return "".join(reversed(chars))


def new_prediction_ids(count: int) -> list[str]:
    """`count` ids of this millisecond: 48 bits of milliseconds then 80 random bits each.

    80 bits are exactly 16 base32 characters, so the random parts of all ids are encoded in one
    RFC 4648 base32 call over their bytes, then mapped to Crockford's alphabet."""
    prefix = _time_part(time.time_ns() // 1_000_000)
    noise = base64.b32encode(os.urandom(10 * count)).translate(_FROM_RFC4648).decode("ascii")
    return [prefix + noise[i : i + 16] for i in range(0, 16 * count, 16)]


def new_prediction_id() -> str:
    """48 bits of milliseconds then 80 random bits, as 26 characters that sort by time."""
    return new_prediction_ids(1)[0]
