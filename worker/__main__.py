"""``python -m worker``: how the supervisor starts its children, and how Flower is started.

    python -m worker consume --concurrency 100 --loglevel INFO --node imagejobs1@%h
    python -m worker flower --port 5555 --address 127.0.0.1

People start workers with ``imagejobs worker`` (the CLI); both read the settings the same way.
"""

from __future__ import annotations

import argparse
import sys

from imagejobs.settings import get_settings
from worker import main


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker")
    commands = parser.add_subparsers(dest="command", required=True)
    consume = commands.add_parser("consume", help="one Celery worker process in the foreground")
    consume.add_argument("--concurrency", type=int, default=None)
    consume.add_argument("--loglevel", default="INFO")
    consume.add_argument("--node", default="imagejobs@%h")
    flower = commands.add_parser("flower", help="Flower on this deployment's broker")
    flower.add_argument("--port", type=int, default=5555)
    flower.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "flower":
        return main.flower(settings, port=args.port, address=args.address)
    return main.start(
        settings,
        concurrency=args.concurrency,
        loglevel=args.loglevel,
        node=args.node,
        child=True,
    )


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
