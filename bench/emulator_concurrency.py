"""How many slow requests one emulator process holds at once.

Fires N concurrent generateContent calls (a small PNG each) at an in-process emulator whose
latency fault is set to L seconds, and prints requests, wall time, max in flight, and the
ideal (L) against the measured wall time.

    .venv/bin/python bench/emulator_concurrency.py --requests 500 --latency 2
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time

from imagejobs.emulator import EmulatorServer
from imagejobs.emulator.scenes import random_scene


async def post(host: str, port: int, path: str, payload: bytes) -> int:
    """One HTTP/1.1 POST on its own connection; returns the status code.

    Raw asyncio streams, because httpx's connection pool costs ~20 ms a request at 500 open
    connections and would measure the client instead of the emulator.
    """
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nx-goog-api-key: bench\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(head.encode() + payload)
    await writer.drain()
    response = await reader.read()
    writer.close()
    return int(response.split(b" ", 2)[1])


async def fire(host: str, port: int, count: int, payload: bytes) -> list[int]:
    path = "/v1beta/models/gemini-2.5-flash:generateContent"
    return await asyncio.gather(*(post(host, port, path, payload) for _ in range(count)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--latency", type=float, default=2.0)
    args = parser.parse_args()
    png = random_scene(1, 320, 240, 4).encode()
    body = {
        "contents": [
            {
                "parts": [
                    {
                        "inlineData": {
                            "mimeType": "image/png",
                            "data": base64.b64encode(png).decode(),
                        }
                    },
                    {"text": "Detect objects as box_2d"},
                ]
            }
        ]
    }
    with EmulatorServer(latency_s=args.latency) as emu:
        started = time.perf_counter()
        codes = asyncio.run(fire(emu.host, emu.port, args.requests, json.dumps(body).encode()))
        wall = time.perf_counter() - started
        stats = emu.control.stats()
    ok = codes.count(200)
    print(f"requests         {args.requests} ({ok} ok, {args.requests - ok} failed)")
    print(f"latency fault    {args.latency:.2f} s")
    print(f"max in flight    {stats['max_in_flight']}")
    print(f"ideal wall time  {args.latency:.2f} s (all overlapping)")
    print(f"measured wall    {wall:.2f} s ({wall / args.latency:.2f}x ideal)")
    print(f"serial would be  {args.latency * args.requests:.0f} s")
    print(f"throughput       {ok / wall:.0f} requests/s")


if __name__ == "__main__":
    main()
