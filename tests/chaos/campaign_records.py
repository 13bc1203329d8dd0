"""What a campaign run records: each kill as it happened and the run's outcome.

`Run` fills these in, the checks read them, `Campaign` sums them up in its report; `to_json`
gives the `--json` dump.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class KillRecord:
    target: str
    trigger: str
    in_flight: str = ""
    at_s: float = 0.0  # since the task started
    wall: float = 0.0  # time.time() of the kill
    recovery_s: float | None = None
    skipped: str | None = None
    mid_sleep: bool | None = None  # command moments: the kill landed while the command slept
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass
class RunRecord:
    index: int
    seed: int
    steps: int
    tools: dict[str, int]
    task_id: str | None = None
    kills: list[KillRecord] = field(default_factory=list)
    reexecuted: list[str] = field(default_factory=list)
    unavailable: list[dict[str, Any]] = field(default_factory=list)  # transient "runtime unavailable"
    kept: str | None = None  # the run's directory, kept when it has violations
    duration_s: float = 0.0
    violations: list[str] = field(default_factory=list)
    runtime_lost: bool = False  # a killed part never came back: no later run could run

    @property
    def kills_done(self) -> int:
        return sum(1 for k in self.kills if not k.skipped)

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["kills"] = [k.to_json() for k in self.kills]
        return d
