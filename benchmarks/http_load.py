"""Raw HTTP/1.1 keep-alive requests for the benchmarks: no client library between the load
generator and the server, so the generator costs as little CPU as possible."""

from __future__ import annotations

import asyncio
import json


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
