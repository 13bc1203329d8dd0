"""The demo's task and the evidence it is judged by.

The task is an offline-model plan over the sample project: read, run the tests (one fails), fix
the bug with `edit_file`, add a test with `write_file`, run the tests again. Each `run_command`
step appends `step-K` to `.dals-demo/steps.log`, so every side effect leaves one line; the slow
step also notes each time it *starts* in `.dals-demo/started.log`. The model's real requests are
counted by the offline model's request log. None of this evidence comes from DALS itself.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

LOG_DIR = ".dals-demo"
STEPS_LOG = f"{LOG_DIR}/steps.log"
STARTED_LOG = f"{LOG_DIR}/started.log"
SLOW_STEP = 7
SLOW_SECONDS = 2

NEW_TEST = '''"""Edge cases added by the DALS demo task."""
import unittest

from wordy import word_count


class EdgeCases(unittest.TestCase):
    def test_empty_text_has_no_words(self):
        self.assertEqual(word_count(""), 0)


if __name__ == "__main__":
    unittest.main()
'''


def _mark(k: int) -> str:
    return f"echo step-{k} >> {STEPS_LOG}"


def plan_steps() -> list[tuple[str, dict]]:
    """The plan: (tool, arguments) per step, step K being item K-1."""
    py = shlex.quote(sys.executable)  # the worker's PATH may not have the venv's python
    return [
        ("list_files", {}),
        ("read_file", {"path": "README.md"}),
        ("read_file", {"path": "wordy.py"}),
        ("run_command", {"command": f"mkdir -p {LOG_DIR} && {_mark(4)}"}),
        ("run_command", {"command": f"{py} -m unittest -q 2>&1 | tail -n 1; {_mark(5)}"}),
        ("edit_file", {"path": "wordy.py", "old": 'text.split(" ")', "new": "text.split()"}),
        (
            "run_command",
            {"command": f"echo step-{SLOW_STEP} >> {STARTED_LOG} && sleep {SLOW_SECONDS} && {_mark(SLOW_STEP)}"},
        ),
        ("write_file", {"path": "test_edge_cases.py", "content": NEW_TEST}),
        ("run_command", {"command": _mark(9)}),
        (
            "edit_file",
            {
                "path": "README.md",
                "old": "Status: word_count miscounts repeated spaces.",
                "new": "Status: all tests pass (fixed by a DALS task).",
            },
        ),
        ("run_command", {"command": f"{py} -m unittest -q && {_mark(11)}"}),
        ("run_command", {"command": f"{_mark(12)} && wc -l < {STEPS_LOG}"}),
    ]


def prompt() -> str:
    lines = ["Fix word_count in wordy.py so repeated spaces don't count as words, add a test, run the tests"]
    lines += [f"/{tool} {json.dumps(args)}" for tool, args in plan_steps()]
    return "\n".join(lines)


def is_slow_step(event: dict) -> bool:
    """The `model` event that asks for the slow command (it starts right after)."""
    calls = (event.get("detail") or {}).get("toolCalls") or []
    return event.get("kind") == "model" and any(
        f"sleep {SLOW_SECONDS}" in str((c.get("args") or {}).get("command", "")) for c in calls
    )


def marked_steps() -> list[int]:
    return [
        k
        for k, (tool, args) in enumerate(plan_steps(), start=1)
        if tool == "run_command" and f"step-{k} >> {STEPS_LOG}" in args["command"]
    ]


@dataclass
class Evidence:
    """What really happened, read from the request log and the side-effect logs."""

    requests: int = 0
    resent_steps: list[int] = field(default_factory=list)  # model steps requested more than once
    missing: list[int] = field(default_factory=list)  # side effects that never landed
    repeated: list[int] = field(default_factory=list)  # side effects that landed more than once
    in_flight_restarts: int = 0  # extra starts of the slow step (it was running at the kill)

    @property
    def ok(self) -> bool:
        return not (self.resent_steps or self.missing or self.repeated)


def gather(request_log: Path, workspace: Path) -> Evidence:
    ev = Evidence()
    steps = [json.loads(line)["step"] for line in _lines(request_log)]
    ev.requests = len(steps)
    ev.resent_steps = sorted(k for k, n in Counter(steps).items() if n > 1)
    done = Counter(_lines(workspace / STEPS_LOG))
    for k in marked_steps():
        n = done.get(f"step-{k}", 0)
        if n == 0:
            ev.missing.append(k)
        elif n > 1:
            ev.repeated.append(k)
    ev.in_flight_restarts = max(0, len(_lines(workspace / STARTED_LOG)) - 1)
    return ev


def _lines(path: Path) -> list[str]:
    try:
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []
