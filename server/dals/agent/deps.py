"""What a tool needs at run time: the workspace root, what the task has seen, and a step runner.

The step runner is the only door to durability: `agent/` calls `runner.step(name, fn)` for every
side effect and `runner.event(...)` to report it. The durable layer journals both; a plain
in-memory runner just calls through (tests, benchmarks' baseline).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ..workspace.shell import ShellState

Step = Callable[[], Awaitable[dict[str, Any]]]


class StepRunner(Protocol):
    async def step(self, name: str, fn: Step) -> dict[str, Any]:
        """Run a side effect once; its plain-data result is what later replays see."""

    def event(self, kind: str, title: str, detail: dict[str, Any], at: str) -> None:
        """Report a finished step (kind: tool | edit | log)."""

    async def changes(self) -> list[dict[str, Any]]:
        """Outside changes to workspace files (`path`, `sha`, `change`, `at`) reported since the
        last call."""

    async def editor_for(self, path: str | None) -> str | None:
        """The attached editor session that has `path` open (with None: any attached editor of the
        task's workspace), or None (then files are on disk)."""

    async def editor(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """Have the attached editor read its buffer, apply an edit or give its diagnostics; None if
        it did not answer."""

    async def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Ask the user (`request`: action, question, path/diff or command); wait durably for
        `{"decision": "approve"|"reject", "comment": str|None}`."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class InMemoryRunner:
    """No journal: run every step directly and keep the events in a list."""

    events: list[dict[str, Any]] = field(default_factory=list)

    async def step(self, name: str, fn: Step) -> dict[str, Any]:
        return await fn()

    approve: bool = True  # the answer every `ask` gets

    def event(self, kind: str, title: str, detail: dict[str, Any], at: str) -> None:
        self.events.append({"kind": kind, "title": title, "detail": detail, "at": at})

    async def changes(self) -> list[dict[str, Any]]:
        return []

    async def editor_for(self, path: str) -> str | None:
        return None

    async def editor(self, request: dict[str, Any]) -> dict[str, Any] | None:
        return None

    async def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        self.events.append({"kind": "approval", "title": request.get("question", ""), "detail": request})
        return {"decision": "approve" if self.approve else "reject", "comment": None}


class SeenHashes(dict):
    """path -> the content hash the task last saw; `history` keeps every hash the task itself
    read or produced for a path, so an outside-change report of one of its own (earlier) writes,
    which can arrive late, is not mistaken for someone else's change."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.history: dict[str, set[str]] = {k: {v} for k, v in self.items()}

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        if not value.startswith("stale:"):
            self.history.setdefault(key, set()).add(value)


@dataclass
class TaskDeps:
    root: Path
    runner: StepRunner
    seen: SeenHashes = field(default_factory=SeenHashes)  # path -> content hash the task last saw
    shell: ShellState = field(default_factory=ShellState)
    mode: str = "auto"  # "review": every edit waits for the user's approval
    commands_allow: list[str] | None = None  # None: every command runs without asking
    edited: bool = False  # a file was changed since the last `diagnostics` call
