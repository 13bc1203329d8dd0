"""The campaign's random inputs: a task plan and its kill schedule, both drawn from a run's seed.

A plan is 5-30 steps in offline plan syntax (`write_file`, `edit_file` on files the plan wrote,
`read_file`, `run_command` with countable traces in `runs.log` and `effects.log`); a kill schedule
is 1-4 kills of `worker`, `restate`, `lsp` or two of them, each at a moment along the plan (a slow
command running, a slow model request, a delay). Same `random.Random` state → same plan and
schedule; nothing here touches a process or a file.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

TARGETS = ("worker", "restate", "lsp", "worker+restate", "worker+lsp", "restate+lsp")
TARGET_WEIGHTS = (5, 4, 3, 2, 2, 2)
TRIGGERS = ("command", "model", "delay")
FILES = ("a.txt", "b.txt", "c.txt", "notes.md")


# --- the plan --------------------------------------------------------------------------------------
@dataclass
class Step:
    number: int  # 1-based: model request number-1 answers with this tool call
    tool: str
    args: dict[str, Any]
    slow_s: float = 0.0  # commands only
    expect: str | None = None  # read_file: the text it must return


@dataclass
class Plan:
    tag: str
    steps: list[Step]
    final: dict[str, str]  # path (relative to the run's directory) -> expected content at the end
    where: str = "."  # the run's directory, relative to the workspace root

    @property
    def prompt(self) -> str:
        lines = [f"Crash campaign run {self.tag}"]
        lines += [f"/{s.tool} {json.dumps(s.args)}" for s in self.steps]
        return "\n".join(lines)

    def count(self, *tools: str) -> int:
        return sum(1 for s in self.steps if s.tool in tools)

    @property
    def commands(self) -> list[Step]:
        return [s for s in self.steps if s.tool == "run_command"]


def command_line(k: int, slow_s: float, where: str = ".") -> str:
    """Paths are spelled from the workspace root: a command's `cwd` argument is relative to the
    shell's current directory, which the journal carries from one command to the next."""
    d = "" if where == "." else f"{where}/"
    start = f'echo "{k} $(date +%s.%N)" >> {d}runs.log'
    if slow_s:
        return f"{start} && touch {d}slow.{k} && sleep {slow_s:.2f} && echo m{k} >> {d}effects.log"
    return f"{start} && echo m{k} >> {d}effects.log"


def make_plan(rng: random.Random, tag: str, n_steps: int, where: str = ".", same_file_gap: int = 4) -> Plan:
    """A plan of `n_steps` steps working in `where` (a directory of the workspace).

    Two changes (write or edit) of one file are at least `same_file_gap` steps apart. With changes
    of a file in back-to-back steps, `dals lsp`'s watcher reports the task's own earlier write back
    to it as an outside change and the next edit is refused, crash or no crash (a bug unrelated to
    crashes: see docs/reliability.md); `same_file_gap=1` lets the campaign hit it anyway.
    """
    files: dict[str, str] = {}
    changed: dict[str, int] = {}  # path -> step of its last write or edit

    def at(path: str) -> str:
        return path if where == "." else f"{where}/{path}"

    def free(paths) -> list[str]:
        return sorted(p for p in paths if k - changed.get(p, -same_file_gap) >= same_file_gap)

    steps: list[Step] = []
    for k in range(1, n_steps + 1):
        choices = {"write_file": 2, "edit_file": 3, "read_file": 2, "run_command": 4}
        if not free(FILES):
            del choices["write_file"]
        if not free(files):
            del choices["edit_file"]
        if not files:
            choices.pop("read_file")
            choices = {"write_file": 1} if "write_file" in choices else {"run_command": 1}
        choice = rng.choices(list(choices), list(choices.values()))[0]
        if choice == "write_file":
            path = rng.choice(free(FILES))
            content = f"{tag} {path} written at step {k}\n"
            files[path] = content
            changed[path] = k
            steps.append(Step(k, "write_file", {"path": at(path), "content": content}))
        elif choice == "edit_file":
            path = rng.choice(free(files))
            anchor = files[path].rstrip("\n").splitlines()[-1]
            line = f"{tag} {path} edited at step {k}"
            files[path] = files[path].replace(anchor, f"{anchor}\n{line}", 1)
            changed[path] = k
            steps.append(Step(k, "edit_file", {"path": at(path), "old": anchor, "new": f"{anchor}\n{line}"}))
        elif choice == "read_file":
            path = rng.choice(sorted(files))
            steps.append(Step(k, "read_file", {"path": at(path)}, expect=files[path]))
        else:
            slow = round(rng.uniform(0.5, 1.5), 2) if rng.random() < 0.45 else 0.0
            steps.append(Step(k, "run_command", {"command": command_line(k, slow, where)}, slow_s=slow))
    return Plan(tag, steps, files, where)


# --- kills -----------------------------------------------------------------------------------------
@dataclass
class KillSpec:
    target: str
    trigger: str  # command | model | delay
    step: int | None = None  # command: the slow step K; model: the step whose request is slowed
    delay_s: float = 0.0  # delay: after the start / the previous recovery
    model_delay_s: float = 0.0


def plan_kills(rng: random.Random, plan: Plan, budget: int) -> list[KillSpec]:
    """1-4 kills (no more than `budget`, about one per 4 steps) at moments ordered along the plan."""
    want = min(budget, rng.randint(1, 4), max(1, len(plan.steps) // 4))
    slow = [s.number for s in plan.commands if s.slow_s]
    kills: list[KillSpec] = []
    last = 1  # triggers go forward along the plan, a few steps apart
    for _ in range(want):
        target = rng.choices(TARGETS, TARGET_WEIGHTS)[0]
        kinds = [t for t in TRIGGERS if t != "command" or any(k > last for k in slow)]
        trigger = rng.choice(kinds)
        if trigger == "command":
            step = rng.choice([k for k in slow if k > last])
            kills.append(KillSpec(target, "command", step=step))
            last = step + 2
        elif trigger == "model":
            if last > len(plan.steps):
                break
            step = rng.randint(last, min(len(plan.steps) + 1, last + 8))  # len+1: the final answer
            kills.append(KillSpec(target, "model", step=step, model_delay_s=round(rng.uniform(0.6, 1.5), 2)))
            last = step + 2
        else:
            kills.append(KillSpec(target, "delay", delay_s=round(rng.uniform(0.1, 2.5), 2)))
            last += 3
    return kills
