"""The OpenAI-compatible model double (tests/support/openai_double.py) as a child process of e2e.mjs.

Prints one JSON line with the base URL, then reads commands from stdin, one a line, and answers
each with one JSON line:

- `down`: every later request fails with HTTP 500 (the provider is down);
- `up`: requests are answered again;
- `stats`: the number of requests received and how many were answered 200.

Stops when stdin closes or on SIGTERM. Run with the repository root on PYTHONPATH.
"""
from __future__ import annotations

import json
import signal
import sys
import threading

from tests.support.openai_double import OpenAIDouble


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    double = OpenAIDouble().start()
    try:
        double.fail_status = 500
        print(json.dumps({"baseUrl": double.base_url}), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "down":
                double.fail_until = threading.Event()
            elif command == "up":
                if double.fail_until is not None:
                    double.fail_until.set()
            elif command != "stats":
                print(json.dumps({"error": f"unknown command {command!r}"}), flush=True)
                continue
            print(json.dumps({"ok": command, "requests": double.count(), "answered": double.count(status=200)}),
                  flush=True)
    finally:
        double.stop()


if __name__ == "__main__":
    main()
