"""Raw HTTP/1.1 keep-alive requests for the benchmarks: no client library between the load
generator and the server, so the generator costs as little CPU as possible."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass


def post_request(host: str, path: str, body: dict[str, object]) -> bytes:
    """One `POST path` with a JSON body, ready to write on a keep-alive connection."""
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one whole response (headers and Content-Length body): its status code and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return status, await reader.readexactly(length)


async def read_status(reader: asyncio.StreamReader) -> int:
    """Read one whole response; return its status code."""
    return (await read_response(reader))[0]


@dataclass(frozen=True)
class ClosedLoop:
    """What `closed_loop` measured: every answered request's latency (sorted, seconds) and each
    failure (status and the start of its body; status 0: the server closed the connection), in
    the measured seconds and, apart, in the warm-up."""

    latencies: list[float]
    failures: Counter[tuple[int, str]]
    seconds: float
    warmup_failures: Counter[tuple[int, str]]

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        return sum(self.failures.values())

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile_ms(self, share: float) -> float:
        n = self.requests
        return self.latencies[min(n - 1, int(n * share))] * 1000 if n else float("nan")


async def _connection(
    host: str,
    port: int,
    requests: list[bytes],
    deadline: float,
    latencies: list[float],
    failures: Counter[tuple[int, str]],
    offset: int,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(requests[i % len(requests)])
            i += 1
            try:
                status, body = await read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError) as error:
                failures[(0, f"connection closed: {type(error).__name__}")] += 1
                writer.close()  # count it, reconnect
                reader, writer = await asyncio.open_connection(host, port)
                continue
            latencies.append(time.perf_counter() - started)
            if status != 200:
                failures[(status, body[:300].decode(errors="replace"))] += 1
    finally:
        writer.close()


def closed_loop(
    url: str,
    path: str,
    bodies: list[dict[str, object]],
    concurrency: int,
    seconds: float,
    *,
    stagger: int = 0,
) -> ClosedLoop:
    """`concurrency` keep-alive connections posting `bodies` in turn for `seconds` (after 0.5 s
    warm-up); connection k starts at body `k * stagger`."""
    host, port = url.removeprefix("http://").split(":")
    requests = [post_request(host, path, body) for body in bodies]

    warmup: Counter[tuple[int, str]] = Counter()

    async def run() -> tuple[list[float], Counter[tuple[int, str]]]:
        latencies: list[float] = []
        failures: Counter[tuple[int, str]] = Counter()
        warm = time.perf_counter() + 0.5
        await asyncio.gather(
            *(
                _connection(host, int(port), requests, warm, [], warmup, k * stagger)
                for k in range(concurrency)
            )
        )
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _connection(host, int(port), requests, deadline, latencies, failures, k * stagger)
                for k in range(concurrency)
            )
        )
        return latencies, failures

    latencies, failures = asyncio.run(run())
    return ClosedLoop(sorted(latencies), failures, seconds, warmup)
