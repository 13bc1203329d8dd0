"""Invocation failures that no retry can fix, told apart from those a retry may fix.

Restate retries a failed attempt of a task (the invocation is `backing-off`: status `retrying`),
then pauses it after `DALS_TASK_MAX_ATTEMPTS`. Some failures come back the same on every attempt,
because they are in what the worker does, not in the world outside: a journal mismatch (the
worker took another path on replay than the journal records: its code changed under a running
task, or the handler is not deterministic), a protocol violation, a value that cannot be
serialized. A task failing so is shown `paused` at once (not `retrying`), with the reason and
what to do (`failure`), and `dals doctor` lists it. See docs/troubleshooting.md.
"""

from __future__ import annotations

import re
from typing import Any

# restate-sdk's (shared core) error codes, and Restate's own for a journal mismatch
NON_RETRYABLE_CODES = {
    "570": "journal mismatch",
    "571": "protocol violation",
    "572": "two results awaited at once",
    "573": "feature unsupported by this Restate",
    "RT0016": "journal mismatch",
}
_SERIALIZATION = re.compile(r"not JSON serializable|[Ss]eriali[sz]ation|Unable to (de)?serialize")
_CODE_IN_TEXT = re.compile(r"^\[(\w+)")  # "[570 Journal mismatch] …" or "[570] …"

FIX = (
    "retrying cannot fix it: if the worker was upgraded under this task, go back to the version "
    "that started it and `dals.resumeTask`; otherwise cancel the task (`dals.cancelTask`) and "
    'report the reason (docs/troubleshooting.md, "A task paused: cannot be retried")'
)


def non_retryable(code: Any, text: str | None) -> str | None:
    """What kind of failure this is when no retry can fix it, else None."""
    code = str(code or "").strip()
    if not code and text and (m := _CODE_IN_TEXT.match(text)):
        code = m.group(1)
    if code in NON_RETRYABLE_CODES:
        return NON_RETRYABLE_CODES[code]
    if text and _SERIALIZATION.search(text):
        return "serialization error"
    return None


def describe(code: Any, text: str | None) -> dict[str, Any] | None:
    """The `failure` field of a TaskSummary for such a failure, else None."""
    kind = non_retryable(code, text)
    if kind is None:
        return None
    return {
        "kind": kind,
        "code": str(code) if code else None,
        "retryable": False,
        "message": (text or "")[:500],
        "fix": FIX,
    }
