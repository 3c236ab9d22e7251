"""Writing encoded rows into Feast's Redis hashes with Feast's newer-wins rule, a chunk at a time.

Per chunk: one read of the stored `_ts:<view>` of every key, the comparison in Python (Feast's
exact rule, `_newer`), then one write of the rows that are newer (`HSET` of `_ts` and every
feature, `EXPIRE` if the store sets `key_ttl_seconds`). On a single Redis (or a Sentinel master)
the read and the write are each one Lua script over the chunk's keys: two commands per chunk
instead of two per row, which is where redis-py spends its time. On Redis Cluster, whose scripts
cannot span slots, both are non-transactional redis-py pipelines of per-key commands. Like Feast,
a concurrent writer between the read and the write of a chunk is not guarded against.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from redis.cluster import RedisCluster

from keel.feast_plumbing.proto_values import timestamp_nanos

CHUNK_ROWS = 1_000  # a script over 1,000 keys holds Redis for a few milliseconds
Progress = Callable[[int], None]

READ_TS = """
local stored = {}
for i, key in ipairs(KEYS) do
  stored[i] = redis.call('HGET', key, ARGV[1])
end
return stored
"""

# ARGV: field count F, TTL (0 = none), F field names, then F values per key in KEYS order.
WRITE_HASHES = """
local nfields = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local args = {}
for j = 1, nfields do args[2 * j - 1] = ARGV[2 + j] end
local at = 2 + nfields
for _, key in ipairs(KEYS) do
  for j = 1, nfields do args[2 * j] = ARGV[at + j] end
  at = at + nfields
  redis.call('HSET', key, unpack(args))
  if ttl > 0 then redis.call('EXPIRE', key, ttl) end
end
return #KEYS
"""


@dataclass(frozen=True)
class EncodedRows:
    """One view's rows in Redis form: keys, the `_ts` cells and their instants (ns), and per
    hash field the cells of every row."""

    keys: list[bytes]
    ts_field: bytes
    ts_cells: list[bytes]
    ts_nanos: np.ndarray
    fields: list[bytes]
    columns: list[list[bytes]]

    def hset_args(self, row: int) -> list[bytes]:
        """`HSET` arguments after the key: `_ts` then every feature, field and value."""
        args = [self.ts_field, self.ts_cells[row]]
        for field, column in zip(self.fields, self.columns, strict=True):
            args += (field, column[row])
        return args


def _newer(new_nanos: int, stored: bytes | None) -> bool:
    """Feast's rule: write unless a stored, non-zero `_ts` is as new or newer."""
    old = timestamp_nanos(stored) if stored else 0
    return not old or new_nanos > old


class _Scripted:
    """Two Lua scripts per chunk (single Redis or Sentinel master)."""

    def __init__(self, client: Any, rows: EncodedRows, ttl: int | None) -> None:
        self.rows = rows
        self.read = client.register_script(READ_TS)
        self.write = client.register_script(WRITE_HASHES)
        self.head = [len(rows.fields) + 1, ttl or 0, rows.ts_field, *rows.fields]
        self.cells = [rows.ts_cells, *rows.columns]

    def stored(self, lo: int, hi: int) -> list[bytes | None]:
        return list(self.read(keys=self.rows.keys[lo:hi], args=[self.rows.ts_field]))

    def put(self, rows: Sequence[int]) -> None:
        values = [column[i] for i in rows for column in self.cells]
        self.write(keys=[self.rows.keys[i] for i in rows], args=self.head + values)


class _Pipelined:
    """Per-key commands in non-transactional pipelines (Redis Cluster)."""

    def __init__(self, client: Any, rows: EncodedRows, ttl: int | None) -> None:
        self.rows = rows
        self.ttl = ttl
        self.pipe = client.pipeline(transaction=False)

    def stored(self, lo: int, hi: int) -> list[bytes | None]:
        for key in self.rows.keys[lo:hi]:
            self.pipe.hget(key, self.rows.ts_field)
        return list(self.pipe.execute())

    def put(self, rows: Sequence[int]) -> None:
        for i in rows:
            self.pipe.execute_command("HSET", self.rows.keys[i], *self.rows.hset_args(i))
            if self.ttl:
                self.pipe.expire(self.rows.keys[i], self.ttl)
        self.pipe.execute()


def write_rows(
    client: Any,
    rows: EncodedRows,
    *,
    key_ttl_seconds: int | None = None,
    skip_dedup: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    scripted: bool | None = None,
    progress: Progress | None = None,
) -> int:
    """Write the rows whose event time is newer than the stored `_ts` (all of them when
    `skip_dedup`, as Feast); returns the number written. `scripted` defaults to "not a cluster"."""
    if scripted is None:
        scripted = not isinstance(client, RedisCluster)
    writer = (_Scripted if scripted else _Pipelined)(client, rows, key_ttl_seconds)
    new_nanos = rows.ts_nanos.tolist()
    written = 0
    for lo in range(0, len(rows.keys), chunk_rows):
        hi = min(lo + chunk_rows, len(rows.keys))
        fresh: Sequence[int] = range(lo, hi)
        if not skip_dedup:
            stored = writer.stored(lo, hi)
            fresh = [i for i, old in zip(fresh, stored, strict=True) if _newer(new_nanos[i], old)]
        if fresh:
            writer.put(fresh)
        written += len(fresh)
        if progress:
            progress(hi - lo)
    return written
