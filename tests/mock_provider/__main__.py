"""Command line entry point: `python -m tests.mock_provider --port N` serves in the foreground."""

from __future__ import annotations

import argparse
import signal
import threading

from .server import MockProvider


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.mock_provider", description="Run the scriptable mock LLM provider."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--model", action="append", dest="models", help="model id listed by GET /v1/models (repeatable)"
    )
    args = parser.parse_args(argv)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with MockProvider(host=args.host, port=args.port, models=args.models) as mock:
        print(f"mock provider listening on {mock.base_url}", flush=True)
        try:
            while not done.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
