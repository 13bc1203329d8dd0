"""A seeded, randomized kill -9 campaign against a real DALS runtime (issue 6, guarantees 1, 2, 4, 5).

Each *run* is one task with a random plan of 5-30 steps (offline plan syntax, one tool call per
model step, served over real HTTP by the OpenAI-compatible double): `write_file`, `edit_file`
(only on files the plan wrote first), `read_file` and `run_command`. Every command leaves two
countable traces in the workspace: a line `K <wall time>` in `runs.log` when it starts (one per
execution, so re-runs are visible with their time) and its marker line `mK` in `effects.log`
when it ends. Slow commands first `touch slow.K`, then sleep 0.5-1.5 s.

During the run, 1-4 kills happen, each at a random moment chosen from the seed: when the slow
command of step K has started (`slow.K` appears), when the model request of step K reaches the
double (that request is made slow for the occasion), or a random delay after the start / after the
previous recovery (a step moment that a slow recovery let pass becomes an immediate kill). A kill is
`kill -9` of one of `worker`, `restate`, `lsp`, or two of them at once.
The runtime's supervisor brings the worker and the server back; a killed `dals lsp` is replaced by
a new client. The campaign waits until what it killed is back (new pid, healthy) before the next
kill, and records how long that took.

After each run, the checks (any failure is a *violation*, recorded with the run's seed):

* the task ended `succeeded`, and `dals.listTasks` says so too;
* every file the plan wrote or edited has exactly the expected content (an edit applied twice
  would duplicate a line; one lost would miss it), and every tool result the model got back is
  right (reads return the expected text at that point of the plan, no tool call returned an error);
* **re-executions** (a model request for a step seen twice by the double; a command with two
  lines in `runs.log`) are allowed only as DESIGN.md guarantee 1 allows: only the step in flight at
  a crash may run again. Precisely: each re-execution must be matched to its own kill of the
  worker or of the Restate server (alone or with something else) that happened between the
  previous execution of that step and this one (1 s of slack for a request already on the wire).
  One kill excuses at most one re-execution. A kill of `dals lsp` alone excuses none: the task
  does not run in it. One more case for a kill of the server without the worker: the attempt it
  cut off lives on in the worker until it notices, and may still *start* the step in flight
  (it was replaying towards it when the server died) — then that kill excuses the re-execution
  by the restarted server's attempt even though the previous execution began after the kill;
* every command's marker is in `effects.log` at least once and at most once per execution of the
  command; a completed (not re-executed) command exactly once. An execution of a slow command
  killed with its worker while it slept never appends its marker (guarantee 2: commands die with
  their worker), so the marker count is then at most the executions minus those killed;
* events (`dals.showTask`) are numbered 1..n without gap or duplicate, with the expected count by
  kind: 2 `status`, one `model` per model request of the plan (steps + 1), one `tool` per read and
  command, one `edit` per write and edit, nothing else; usage says steps + 1 requests;
* every `dals lsp` client saw a gap-free, duplicate-free stream of `dals/taskEvent`.

Usable from pytest (`Campaign(runtime, double, ...).run()` inside the chaos tier's fixtures) and as
a program that brings up its own runtime and writes a Markdown report:

    python -m tests.chaos.campaign --seed 2024 --kills 200 --report docs/reliability-campaign.md

A run is reproducible from its own seed (printed and reported): its plan and its kill schedule
derive from it alone (the moments, not the timing). `--run SEED` replays just that run.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.lsp_client import TERMINAL, DalsClient
from tests.support.openai_double import OpenAIDouble, conversation_key
from tests.support.runtime import Runtime, pid_alive

TARGETS = ("worker", "restate", "lsp", "worker+restate", "worker+lsp", "restate+lsp")
TARGET_WEIGHTS = (5, 4, 3, 2, 2, 2)
TRIGGERS = ("command", "model", "delay")
# Only these lose the step in flight: the task runs in the worker and is journaled by the server.
JOURNAL_TARGETS = ("worker", "restate")
SLACK_S = 1.0  # a request or command already on its way when the kill landed is seen a bit later
UNAVAILABLE_S = 30.0  # how long a "DALS runtime unavailable" answer may last after a restart
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


# --- observing the runtime -------------------------------------------------------------------------
def _http_ok(url: str | None) -> bool:
    if not url:
        return False
    try:
        with urllib.request.urlopen(url, timeout=2.0) as r:
            return r.status == 200
    except (OSError, ValueError):
        return False


def runtime_status(rt: Runtime) -> dict[str, Any]:
    """What `dals status --json` says about the restate server and the worker (pids from the
    supervisor's `runtime.json`, health over HTTP), computed here: a `dals status` subprocess per
    poll costs the 2-core machine more than the thing it measures."""
    try:
        data = json.loads((rt.state_dir / "runtime.json").read_text())
    except (OSError, ValueError):
        data = {}
    restate, worker = data.get("restate") or {}, data.get("worker") or {}
    rpid, wpid = restate.get("pid"), worker.get("pid")
    admin, ingress = restate.get("admin"), restate.get("ingress")
    st = {
        "restate": {"pid": rpid if pid_alive(rpid) else None,
                    "healthy": _http_ok(f"{admin}/health") and _http_ok(f"{ingress}/restate/health")},
        "worker": {"pid": wpid if pid_alive(wpid) else None, "healthy": _http_ok(f"{worker.get('url')}/health")},
        "supervisor": {"pid": data.get("supervisor") if pid_alive(data.get("supervisor")) else None},
    }
    rt._remember(st)
    return st


def wait_back(rt: Runtime, parts: list[str], old: dict[str, int], timeout: float) -> float:
    """Block until every part in `parts` runs with a new pid and is healthy; the seconds it took."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        st = runtime_status(rt)
        if all(st[p]["pid"] and st[p]["pid"] != old[p] and st[p]["healthy"] for p in parts):
            # and what was not killed is healthy too (the worker re-registers after a server restart)
            if st["restate"]["healthy"] and st["worker"]["healthy"]:
                return time.monotonic() - t0
        if time.monotonic() > deadline:
            raise TimeoutError(f"{'+'.join(parts)} not back after {timeout:.0f}s: {st}")
        time.sleep(0.1)


def wait_file(path: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def excuse_reruns(reruns: list[tuple[float, float, str]], kills: list[KillRecord],
                  log: list[str] | None = None) -> list[str]:
    """Match every re-execution `(previous start, this start, what)` to the kill that allows it;
    the violations for those that no kill allows (see the module docstring for the rule)."""
    excuses = sorted((k.wall, k.target) for k in kills
                     if not k.skipped and any(p in JOURNAL_TARGETS for p in k.target.split("+")))
    used: dict[int, str] = {}  # kill -> the re-execution it excused (one each)
    out = []
    for prev, this, what in sorted(reruns, key=lambda r: r[1]):
        if log is not None:
            log.append(what)
        match = next((i for i, (w, _) in enumerate(excuses)
                      if i not in used and prev - SLACK_S <= w <= this), None)
        if match is None:
            # The attempt cut off from a killed server lives on in the worker and may still *start*
            # the step in flight after the crash (it was replaying towards it); the restarted
            # server's attempt then runs it again. So a kill of the server without the worker also
            # excuses a re-execution whose previous execution began after that kill.
            match = next((i for i, (w, target) in enumerate(excuses)
                          if i not in used and "worker" not in target and w <= prev <= this), None)
        if match is None:
            out.append(f"{what} ran again at +{this - prev:.2f}s with no kill of the worker or server "
                       f"in between (only the step in flight at a crash may run again)")
        else:
            used[match] = what
    return out


# --- one run ---------------------------------------------------------------------------------------
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

    @property
    def kills_done(self) -> int:
        return sum(1 for k in self.kills if not k.skipped)

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["kills"] = [k.to_json() for k in self.kills]
        return d


class Run:
    def __init__(self, campaign: Campaign, index: int, seed: int, budget: int):
        self.c = campaign
        self.rt = campaign.runtime
        self.double = campaign.double
        self.index = index
        self.seed = seed
        rng = random.Random(seed)
        where = f"run{index}"
        self.plan = make_plan(rng, f"r{index}-{seed:x}", rng.randint(campaign.min_steps, campaign.max_steps), where,
                              campaign.same_file_gap)
        self.specs = plan_kills(rng, self.plan, min(budget, campaign.max_kills_per_run))
        self.key = conversation_key(self.plan.prompt)
        self.ws = campaign.root / where  # the run's directory in the campaign's workspace
        self.ws.mkdir()
        tools = {t: self.plan.count(t) for t in ("write_file", "edit_file", "read_file", "run_command")}
        self.rec = RunRecord(index, seed, len(self.plan.steps), tools)
        self.clients: list[tuple[int, DalsClient]] = []  # (pid of its `dals lsp`, client)
        self.t0 = 0.0
        self._asked = 0.0

    def log(self, msg: str) -> None:
        self.c.log(f"run {self.index} (seed {self.seed}): {msg}")

    @property
    def client(self) -> DalsClient:
        return self.c.client

    async def command(self, name: str, args: dict[str, Any]) -> Any:
        """A read-only `dals.*` command; "DALS runtime unavailable" answers are retried for up to
        UNAVAILABLE_S and recorded (right after a server restart, Restate's /health answers before
        its SQL admin API does). Still unavailable after that: the error goes up (a violation)."""
        first: float | None = None
        while True:
            try:
                out = await self.client.command(name, args)
            except Exception as e:  # noqa: BLE001 - pygls' JsonRpcException and kin
                if "runtime unavailable" not in str(e) or (first and time.monotonic() - first > UNAVAILABLE_S):
                    raise
                if first is None:
                    first, error = time.monotonic(), str(e)
                await asyncio.sleep(0.2)
                continue
            if first is not None:
                restarts = [k.wall for k in self.rec.kills if "restate" in k.target and k.wall]
                self.rec.unavailable.append({
                    "command": name, "window_s": round(time.monotonic() - first, 2),
                    "after_server_kill_s": round(time.time() - max(restarts), 2) if restarts else None,
                    "error": error[:200]})
            return out

    async def execute(self) -> RunRecord:
        self.double.delays = {s.step - 1: s.model_delay_s for s in self.specs if s.trigger == "model"}
        start = time.monotonic()
        try:
            self.clients.append((self.client.pid, self.client))
            started = await self.client.command("dals.startTask", {"prompt": self.plan.prompt})
            self.rec.task_id = started["taskId"]
            self.t0 = time.monotonic()
            self.log(f"task {self.rec.task_id}: {len(self.plan.steps)} steps {self.rec.tools}, "
                     f"kills {[(s.target, s.trigger, s.step or s.delay_s) for s in self.specs]}")
            for spec in self.specs:
                await self.kill(spec)
            shown = await self.finished()
            if shown is not None:
                await self.check(shown)
        except Exception as e:  # noqa: BLE001 - a campaign records, it does not stop at the first failure
            self.rec.violations.append(f"run aborted: {type(e).__name__}: {e}")
            try:  # the next run needs a working client
                await self.c.replace_client()
            except Exception as e2:  # noqa: BLE001
                self.rec.violations.append(f"no new client: {type(e2).__name__}: {e2}")
        finally:
            self.double.delays = {}
            self.rec.duration_s = round(time.monotonic() - start, 2)
        if not self.rec.violations:
            shutil.rmtree(self.ws, ignore_errors=True)
        else:
            self.rec.kept = str(self.ws)
        return self.rec

    # -- kill ------------------------------------------------------------------------------------
    async def kill(self, spec: KillSpec) -> None:
        parts = spec.target.split("+")
        rec = KillRecord(spec.target, spec.trigger)
        self.rec.kills.append(rec)
        st = await asyncio.to_thread(runtime_status, self.rt)
        old = {p: st[p]["pid"] for p in ("worker", "restate")}
        for p in parts:
            if p != "lsp" and not old[p]:
                raise AssertionError(f"{p} has no pid before a kill: {st}")
        reached = await self.trigger(spec, rec)
        if not reached:
            return
        # kill -9, all targets at once
        pids = [self.client.pid if p == "lsp" else old[p] for p in parts]
        rec.wall = time.time()
        rec.at_s = round(time.monotonic() - self.t0, 2)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        if rec.trigger == "command":
            try:
                began = (self.ws / f"slow.{spec.step}").stat().st_mtime
                rec.mid_sleep = rec.wall < began + self.plan.steps[spec.step - 1].slow_s - 0.15
            except OSError:
                rec.mid_sleep = False
        if not rec.in_flight:
            rec.in_flight = self.in_flight()
        self.c.kills += 1
        self.log(f"kill -9 {spec.target} at {rec.at_s}s ({spec.trigger}; in flight: {rec.in_flight})")
        t = time.monotonic()
        if "lsp" in parts:
            await self.c.replace_client()
            self.clients.append((self.client.pid, self.client))
        back = [p for p in parts if p != "lsp"]
        if back:
            await asyncio.to_thread(wait_back, self.rt, back, old, self.c.timeout)
        rec.recovery_s = round(time.monotonic() - t, 2)

    async def trigger(self, spec: KillSpec, rec: KillRecord) -> bool:
        timeout = self.c.timeout
        passed = ((spec.trigger == "command" and (self.ws / f"slow.{spec.step}").exists())
                  or (spec.trigger == "model" and any(r["key"] == self.key and r["step"] >= spec.step - 1
                                                      for r in self.double.requests)))
        if passed:  # a recovery took longer than the steps before the moment: kill now instead
            rec.trigger = "delay"
            rec.note = f"{spec.trigger} moment of step {spec.step} had passed: killed at once"
            if await self.ended():
                rec.skipped = "the task finished before the moment came"
                return False
            return True
        if spec.trigger == "command":
            step = self.plan.steps[spec.step - 1]
            ok = await self.until_or_finished(lambda: wait_file(self.ws / f"slow.{spec.step}", 0.5), timeout)
            rec.in_flight = f"step {spec.step} run_command (slow, {step.slow_s}s)"
        elif spec.trigger == "model":
            want = spec.step - 1

            def arrived() -> bool:
                return self.double.wait_until(
                    lambda reqs: any(r["key"] == self.key and r["step"] == want for r in reqs), 0.5)
            ok = await self.until_or_finished(arrived, timeout)
            what = "final answer" if spec.step > len(self.plan.steps) else f"step {spec.step}"
            rec.in_flight = f"model request {spec.step} ({what}, slowed {spec.model_delay_s}s)"
        else:
            deadline = time.monotonic() + spec.delay_s
            while time.monotonic() < deadline and not await self.ended():
                await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            ok = not await self.ended()
        if not ok:
            rec.skipped = "the task finished before the moment came"
            self.log(f"kill of {spec.target} skipped: {rec.skipped}")
        return ok

    async def until_or_finished(self, check, timeout: float) -> bool:
        """Re-run the blocking `check` (short waits) until it holds; False once the task ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await asyncio.to_thread(check):
                return True
            if await self.ended():
                return False  # too late: the moment never came while the task ran
        raise TimeoutError(f"the kill moment did not come within {timeout:.0f}s")

    async def ended(self) -> bool:
        """The task ended: from the live stream, else (a new client may have missed the end) from
        `dals.showTask`, asked at most every 2 s."""
        evs = self.client.events.get(self.rec.task_id, [])
        if any(e["kind"] == "status" and e["status"] in TERMINAL for e in evs):
            return True
        if time.monotonic() - self._asked < 2.0:
            return False
        self._asked = time.monotonic()
        return await self.listed_status() in TERMINAL

    async def listed_status(self) -> str | None:
        """The task's status in `dals.listTasks` (not `dals.showTask`: a showTask answer counts as
        events delivered, so the live stream would rightly skip them and the stream check could
        not tell that from a gap)."""
        listed = await self.command("dals.listTasks", {})
        return next((t["status"] for t in listed["tasks"] if t["taskId"] == self.rec.task_id), None)

    def in_flight(self) -> str:
        """The step in flight at the kill, from what the double and the workspace saw."""
        reqs = [r for r in self.double.requests if r["key"] == self.key]
        if not reqs:
            return "before the first model request"
        last = max(reqs, key=lambda r: r["time"])
        n = last["step"] + 1
        if last["status"] is None:
            return f"model request {n}"
        if n > len(self.plan.steps):
            return "after the final answer"
        step = self.plan.steps[n - 1]
        if step.tool == "run_command":
            started = [ln for ln in read_lines(self.ws / "runs.log") if ln.split(" ")[0] == str(n)]
            ended = read_lines(self.ws / "effects.log").count(f"m{n}")
            if len(started) > ended:
                return f"step {n} run_command (running{', slow' if step.slow_s else ''})"
        return f"step {n} {step.tool} (or journaling model request {n}, or replaying)"

    # -- end -------------------------------------------------------------------------------------
    async def finished(self) -> dict[str, Any] | None:
        deadline = time.monotonic() + self.c.timeout * 2
        while True:
            try:
                await self.client.wait_finished(self.rec.task_id, timeout=3)
                ended = True
            except asyncio.TimeoutError:  # a client started after the end sees no live event
                ended = await self.listed_status() in TERMINAL
            if ended:
                evs = self.client.events.get(self.rec.task_id)
                if evs:  # let the live stream finish before it is checked
                    try:
                        await self.client.wait_event(
                            self.rec.task_id, lambda e: any(x["kind"] == "status" and x["status"] in TERMINAL
                                                            for x in e), timeout=10)
                    except asyncio.TimeoutError:
                        pass
                return await self.command("dals.showTask", {"taskId": self.rec.task_id})
            if time.monotonic() > deadline:
                shown = await self.command("dals.showTask", {"taskId": self.rec.task_id})
                self.rec.violations.append(
                    f"task not finished after {self.c.timeout * 2:.0f}s: status {shown['status']} "
                    f"{shown.get('lastFailure') or ''}")
                return None

    async def check(self, shown: dict[str, Any]) -> None:
        v = self.rec.violations
        plan = self.plan
        n = len(plan.steps)
        if shown["status"] != "succeeded":
            v.append(f"task {shown['status']}: {shown.get('error')}")
        listed = await self.command("dals.listTasks", {})
        mine = [t for t in listed["tasks"] if t["taskId"] == self.rec.task_id]
        if len(mine) != 1 or mine[0]["status"] != "succeeded":
            v.append(f"dals.listTasks shows {[t['status'] for t in mine]} for the task")

        # files
        for path, content in plan.final.items():
            try:
                got = (self.ws / path).read_text()
            except OSError as e:
                got = f"<{e}>"
            if got != content:
                v.append(f"{path}: expected {content!r}, found {got!r}")

        # tool results as the model got them (the last request carries the whole conversation)
        final = [r for r in self.double.requests if r["key"] == self.key and r["step"] == n and r["status"] == 200]
        if not final:
            v.append("the final model request never reached the double")
        else:
            returns = {m.get("tool_call_id"): m.get("content") for m in final[-1]["messages"] if m.get("role") == "tool"}
            for s in plan.steps:
                got = returns.get(f"call-{s.number}")
                if not isinstance(got, str):
                    v.append(f"step {s.number} {s.tool}: no tool result in the conversation")
                elif got.startswith("error"):
                    v.append(f"step {s.number} {s.tool}: {got[:200]}")
                elif s.tool == "read_file" and got != s.expect:
                    v.append(f"step {s.number} read_file: expected {s.expect!r}, got {got!r}")
                elif s.tool == "run_command" and not got.startswith("exit code: 0"):
                    v.append(f"step {s.number} run_command: {got[:200]}")

        # re-executions, each matched to its own kill of the worker or the server
        reruns: list[tuple[float, float, str]] = []  # (previous, this, what)
        for step in range(n + 1):
            times = sorted(r["time"] for r in self.double.requests if r["key"] == self.key and r["step"] == step)
            if not times:
                v.append(f"model request {step + 1} never reached the double")
            reruns += [(a, b, f"model request {step + 1}") for a, b in zip(times, times[1:])]
        runs: dict[int, list[float]] = {}
        for line in read_lines(self.ws / "runs.log"):
            k, _, t = line.partition(" ")
            runs.setdefault(int(k), []).append(float(t))
        effects = read_lines(self.ws / "effects.log")
        for s in plan.commands:
            times = sorted(runs.get(s.number, []))
            reruns += [(a, b, f"command {s.number}") for a, b in zip(times, times[1:])]
            marks = effects.count(f"m{s.number}")
            # executions killed with their worker while they slept (guarantee 2) add no marker, ever
            died = sum(1 for k in self.rec.kills if k.trigger == "command" and not k.skipped and k.mid_sleep
                       and "worker" in k.target and k.in_flight.startswith(f"step {s.number} "))
            if not 1 <= marks <= max(1, len(times)):
                v.append(f"command {s.number}: marker m{s.number} {marks}× in effects.log, ran {len(times)}×")
            elif died and marks > len(times) - died:
                v.append(f"command {s.number} ran {len(times)}×, {died}× killed with its worker while it slept, "
                         f"yet its marker is {marks}× in effects.log (a command outlived its worker)")
        unknown = sorted(set(effects) - {f"m{s.number}" for s in plan.commands})
        if unknown:
            v.append(f"unexpected lines in effects.log: {unknown}")
        v += excuse_reruns(reruns, self.rec.kills, self.rec.reexecuted)

        # events
        events = shown.get("events") or []
        seqs = [e["seq"] for e in events]
        if seqs != list(range(1, len(seqs) + 1)):
            v.append(f"events not contiguous from 1: {seqs}")
        kinds = {k: sum(1 for e in events if e["kind"] == k) for k in
                 ("status", "model", "tool", "edit", "approval", "log")}
        want = {"status": 2, "model": n + 1, "tool": plan.count("read_file", "run_command"),
                "edit": plan.count("write_file", "edit_file"), "approval": 0, "log": 0}
        if kinds != want:
            odd = [f"#{e['seq']} {e['kind']}: {e['title']}" for e in events if e["kind"] in ("log", "approval")]
            v.append(f"events by kind {kinds}, expected {want}" + (f"; {odd}" if odd else ""))
        if shown.get("usage", {}).get("requests") != n + 1:
            v.append(f"usage.requests {shown.get('usage', {}).get('requests')}, expected {n + 1}")
        # live streams: each `dals lsp` sends seq in order, no gap, no duplicate; the first one from 1
        # (a `dals lsp` started mid-task goes on from where the journal is)
        for i, (pid, client) in enumerate(self.clients):
            got = [e["seq"] for e in client.events.get(self.rec.task_id, [])]
            first = 1 if i == 0 else (got[0] if got else 1)
            if got and got != list(range(first, first + len(got))):
                v.append(f"dals lsp {i + 1} (pid {pid}) sent a gap or a duplicate in dals/taskEvent: {got}")
        last_pid, last = self.clients[-1]
        got = [e["seq"] for e in last.events.get(self.rec.task_id, [])]
        if got and got[-1] != len(seqs):
            v.append(f"the live stream of dals lsp {len(self.clients)} (pid {last_pid}) stopped at {got[-1]} "
                     f"of {len(seqs)}")


# --- the campaign ----------------------------------------------------------------------------------
class Campaign:
    def __init__(self, runtime: Runtime, double: OpenAIDouble, seed: int, kills: int,
                 min_steps: int = 5, max_steps: int = 30, timeout: float = 180.0,
                 max_seconds: float | None = None, verbose: bool = True, same_file_gap: int = 4,
                 max_kills_per_run: int = 4, run_seeds: list[int] | None = None):
        self.runtime = runtime
        self.double = double
        self.seed = seed
        self.target = kills
        self.min_steps = min_steps
        self.max_steps = max_steps
        self.timeout = timeout
        self.max_seconds = max_seconds
        self.verbose = verbose
        self.same_file_gap = same_file_gap
        self.max_kills_per_run = max_kills_per_run
        self.run_seeds = run_seeds
        self.kills = 0
        self.runs: list[RunRecord] = []
        self.started = 0.0
        self.duration_s = 0.0
        self.stopped_early: str | None = None
        # One workspace (a directory per run) and one `dals lsp` client, replaced when killed.
        self.root = Path(tempfile.mkdtemp(prefix="dals-campaign-ws-"))
        self.client: DalsClient | None = None

    async def replace_client(self) -> None:
        if self.client is not None:
            await self.client.stop()
        client = DalsClient(self.runtime.env, self.root)
        await asyncio.wait_for(client.start(), self.timeout)
        self.client = client

    def log(self, msg: str) -> None:
        if self.verbose:
            print(f"[campaign +{time.monotonic() - self.started:7.1f}s] {msg}", file=sys.stderr, flush=True)

    async def run(self) -> Campaign:
        self.started = time.monotonic()
        rng = random.Random(self.seed)
        await self.replace_client()
        try:
            await self._runs(rng)
        finally:
            self.duration_s = round(time.monotonic() - self.started, 1)
            await self.client.stop()
            if not self.violations:
                shutil.rmtree(self.root, ignore_errors=True)
        return self

    async def _runs(self, rng: random.Random) -> None:
        index = 0
        if self.run_seeds:
            for seed in self.run_seeds:
                index += 1
                rec = await Run(self, index, seed, self.max_kills_per_run).execute()
                self.runs.append(rec)
                self.log(f"run {index} done in {rec.duration_s}s, violations: {rec.violations or 'none'}")
            return
        while self.kills < self.target:
            if self.max_seconds and time.monotonic() - self.started > self.max_seconds:
                self.stopped_early = (f"time budget of {self.max_seconds:.0f}s spent after {self.kills} "
                                      f"of {self.target} kills")
                self.log(self.stopped_early)
                break
            index += 1
            run = Run(self, index, rng.getrandbits(32), self.target - self.kills)
            rec = await run.execute()
            self.runs.append(rec)
            self.log(f"run {index} done in {rec.duration_s}s, {rec.kills_done} kills, "
                     f"re-executed {rec.reexecuted or 'nothing'}, violations: {rec.violations or 'none'}")
            if len(self.runs) > 5 * self.target:  # the moments keep missing: something is off
                self.stopped_early = f"{len(self.runs)} runs for {self.kills} kills"
                break

    # -- results ---------------------------------------------------------------------------------
    @property
    def violations(self) -> list[str]:
        return [f"run {r.index} (seed {r.seed}): {v}" for r in self.runs for v in r.violations]

    @property
    def failed_runs(self) -> list[RunRecord]:
        return [r for r in self.runs if r.violations]

    def by_target(self) -> dict[str, int]:
        out = {t: 0 for t in TARGETS}
        for r in self.runs:
            for k in r.kills:
                if not k.skipped:
                    out[k.target] += 1
        return out

    def by_trigger(self) -> dict[str, int]:
        out = {t: 0 for t in TRIGGERS}
        for r in self.runs:
            for k in r.kills:
                if not k.skipped:
                    out[k.trigger] += 1
        return out

    def recoveries(self, part: str) -> list[float]:
        return sorted(k.recovery_s for r in self.runs for k in r.kills
                      if not k.skipped and k.recovery_s is not None and k.target == part)

    def summary(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "kills": self.kills, "target": self.target, "runs": len(self.runs),
            "steps": sum(r.steps for r in self.runs),
            "skipped": sum(1 for r in self.runs for k in r.kills if k.skipped),
            "reexecuted": sum(len(r.reexecuted) for r in self.runs),
            "violations": len(self.violations), "failed_runs": len(self.failed_runs),
            "duration_s": self.duration_s,
            "unavailable": sum(len(r.unavailable) for r in self.runs),
            "unavailable_max_s": max((u["window_s"] for r in self.runs for u in r.unavailable), default=0.0),
            "by_target": self.by_target(), "by_trigger": self.by_trigger(),
            "stopped_early": self.stopped_early,
        }

    def report(self, command: str | None = None) -> str:
        s = self.summary()

        def stats(xs: list[float]) -> str:
            if not xs:
                return "–"
            return f"{len(xs)}: median {xs[len(xs) // 2]:.2f} s, max {xs[-1]:.2f} s"

        lines = [
            "# Randomized crash campaign: report",
            "",
            f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} by `tests/chaos/campaign.py`"
            + (f" (`{command}`)." if command else "."),
            "",
            f"- seed **{self.seed}**; kills **{s['kills']}** of {self.target} asked"
            + (f" — **stopped early**: {self.stopped_early}" if self.stopped_early else ""),
            f"- runs (tasks) {s['runs']}, plan steps {s['steps']}, kills skipped because the task ended first "
            f"{s['skipped']}",
            f"- kills by target: " + ", ".join(f"{k} {n}" for k, n in s["by_target"].items()),
            f"- kills by moment: " + ", ".join(f"{k} {n}" for k, n in s["by_trigger"].items()),
            f"- steps executed again (all matched to a kill of the worker or server): {s['reexecuted']}",
            f"- **violations: {s['violations']}** in {s['failed_runs']} run(s)",
            f"- transient \"DALS runtime unavailable\" answers to dals.listTasks/showTask after a server restart "
            f"(retried, not violations): {s['unavailable']}, longest {s['unavailable_max_s']:.2f} s",
            f"- wall time {self.duration_s:.0f} s (runs: median "
            f"{sorted(r.duration_s for r in self.runs)[len(self.runs) // 2] if self.runs else 0:.1f} s)",
            "- recovery (kill → killed parts back with a new pid and healthy): "
            + "; ".join(f"{t} {stats(self.recoveries(t))}" for t in TARGETS),
            "",
        ]
        if self.violations:
            lines += ["## Violations", ""] + [f"- {v}" for v in self.violations]
            lines += [f"- run {r.index}: workspace kept in `{r.kept}`" for r in self.failed_runs if r.kept] + [""]
        lines += ["## Runs", "",
                  "| run | seed | steps | kills: target @ s (moment; in flight; recovery s) | re-executed | s | violations |",
                  "|---|---|---|---|---|---|---|"]
        for r in self.runs:
            ks = "<br>".join(
                f"{k.target} — skipped ({k.trigger})" if k.skipped else
                f"{k.target} @ {k.at_s} ({k.trigger}{' — ' + k.note if k.note else ''}; {k.in_flight}; "
                f"{k.recovery_s})" for k in r.kills)
            lines.append(f"| {r.index} | {r.seed} | {r.steps} | {ks} | {', '.join(r.reexecuted) or '–'} | "
                         f"{r.duration_s} | {len(r.violations) or '–'} |")
        return "\n".join(lines) + "\n"


# --- as a program ----------------------------------------------------------------------------------
async def _main(args: argparse.Namespace) -> int:
    # SIGTERM (and SIGINT, which a background job ignores) stop the campaign and its runtime cleanly
    me = asyncio.current_task()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, me.cancel)
    state = Path(tempfile.mkdtemp(prefix="dals-campaign-state-"))
    with OpenAIDouble(model="double") as double:
        rt = Runtime(state, {"OPENAI_BASE_URL": double.base_url, "OPENAI_API_KEY": "test-key",
                             "DALS_MODEL": "openai-chat:double"})
        await asyncio.to_thread(rt.up)
        campaign = Campaign(rt, double, args.seed, args.kills, min_steps=args.min_steps,
                            max_steps=args.max_steps, timeout=args.timeout,
                            max_seconds=args.max_minutes * 60 if args.max_minutes else None,
                            same_file_gap=args.same_file_gap, run_seeds=args.run)
        try:
            await campaign.run()
        except asyncio.CancelledError:
            campaign.stopped_early = f"interrupted after {campaign.kills} of {args.kills} kills"
        finally:
            await asyncio.to_thread(rt.down)
            shutil.rmtree(state, ignore_errors=True)
    command = "python -m tests.chaos.campaign " + " ".join(sys.argv[1:])
    text = campaign.report(command)
    if args.report:
        Path(args.report).write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": campaign.summary(),
                                               "runs": [r.to_json() for r in campaign.runs]}, indent=1))
    print(json.dumps(campaign.summary()))
    for v in campaign.violations:
        print("VIOLATION", v)
    return 1 if campaign.violations else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.chaos.campaign", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--report", help="write the Markdown report here")
    ap.add_argument("--json", help="write every run's record here as JSON")
    ap.add_argument("--min-steps", type=int, default=5)
    ap.add_argument("--max-steps", type=int, default=30)
    ap.add_argument("--run", type=int, action="append", metavar="SEED",
                    help="replay only the run with this seed (repeatable); --kills is then ignored")
    ap.add_argument("--same-file-gap", type=int, default=4,
                    help="steps between two changes of one file (1: back to back, hits the watcher bug)")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds for any one wait")
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="stop after this long even if fewer kills were done (the report says so)")
    return asyncio.run(_main(ap.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Campaign", "Plan", "make_plan", "plan_kills", "pid_alive"]
