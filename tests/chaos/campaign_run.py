"""One campaign run: a task from a random plan, killed at its scheduled moments, then checked.

`Run` starts the task through the campaign's `dals lsp` client, waits for each kill moment (a slow
command's `slow.K` file, a model request reaching the double, a delay), sends `kill -9` to the
targets, waits until what it killed is back (a killed `dals lsp` is replaced by a new client), and
after the task ends hands what it saw to `campaign_checks`; every failure lands in its `RunRecord`.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import time
from typing import TYPE_CHECKING, Any

from tests.chaos.campaign_checks import check_events, check_executions, check_files, check_tool_results
from tests.chaos.campaign_observe import RuntimeNotBack, read_lines, runtime_status, wait_back, wait_file
from tests.chaos.campaign_plan import KillSpec, make_plan, plan_kills
from tests.chaos.campaign_records import KillRecord, RunRecord
from tests.support.lsp_client import TERMINAL, DalsClient
from tests.support.openai_double import conversation_key

if TYPE_CHECKING:
    from tests.chaos.campaign import Campaign

UNAVAILABLE_S = 30.0  # how long a "DALS runtime unavailable" answer may last after a restart


class Run:
    def __init__(self, campaign: Campaign, index: int, seed: int, budget: int):
        self.c = campaign
        self.rt = campaign.runtime
        self.double = campaign.double
        self.index = index
        self.seed = seed
        rng = random.Random(seed)
        where = f"run{index}"
        self.plan = make_plan(
            rng,
            f"r{index}-{seed:x}",
            rng.randint(campaign.min_steps, campaign.max_steps),
            where,
            campaign.same_file_gap,
        )
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
                self.rec.unavailable.append(
                    {
                        "command": name,
                        "window_s": round(time.monotonic() - first, 2),
                        "after_server_kill_s": round(time.time() - max(restarts), 2) if restarts else None,
                        "error": error[:200],
                    }
                )
            return out

    async def execute(self) -> RunRecord:
        self.double.delays = {s.step - 1: s.model_delay_s for s in self.specs if s.trigger == "model"}
        start = time.monotonic()
        try:
            self.clients.append((self.client.pid, self.client))
            started = await self.client.command("dals.startTask", {"prompt": self.plan.prompt})
            self.rec.task_id = started["taskId"]
            self.t0 = time.monotonic()
            self.log(
                f"task {self.rec.task_id}: {len(self.plan.steps)} steps {self.rec.tools}, "
                f"kills {[(s.target, s.trigger, s.step or s.delay_s) for s in self.specs]}"
            )
            for spec in self.specs:
                await self.kill(spec)
            shown = await self.finished()
            if shown is not None:
                await self.check(shown)
        except RuntimeNotBack as e:  # no later run can run: say why (log tails) and stop the campaign
            self.rec.violations.append(f"run aborted: {e}")
            self.rec.runtime_lost = True
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
        passed = (spec.trigger == "command" and (self.ws / f"slow.{spec.step}").exists()) or (
            spec.trigger == "model"
            and any(r["key"] == self.key and r["step"] >= spec.step - 1 for r in self.double.requests)
        )
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
                    lambda reqs: any(r["key"] == self.key and r["step"] == want for r in reqs), 0.5
                )

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
            except TimeoutError:  # a client started after the end sees no live event
                ended = await self.listed_status() in TERMINAL
            if ended:
                evs = self.client.events.get(self.rec.task_id)
                if evs:  # let the live stream finish before it is checked
                    try:
                        await self.client.wait_event(
                            self.rec.task_id,
                            lambda e: any(x["kind"] == "status" and x["status"] in TERMINAL for x in e),
                            timeout=10,
                        )
                    except TimeoutError:
                        pass
                return await self.command("dals.showTask", {"taskId": self.rec.task_id})
            if time.monotonic() > deadline:
                shown = await self.command("dals.showTask", {"taskId": self.rec.task_id})
                self.rec.violations.append(
                    f"task not finished after {self.c.timeout * 2:.0f}s: status {shown['status']} "
                    f"{shown.get('lastFailure') or ''}"
                )
                return None

    async def check(self, shown: dict[str, Any]) -> None:
        """The task's end status here (it needs `dals.listTasks`), the rest in `campaign_checks`."""
        v = self.rec.violations
        if shown["status"] != "succeeded":
            v.append(f"task {shown['status']}: {shown.get('error')}")
        listed = await self.command("dals.listTasks", {})
        mine = [t for t in listed["tasks"] if t["taskId"] == self.rec.task_id]
        if len(mine) != 1 or mine[0]["status"] != "succeeded":
            v.append(f"dals.listTasks shows {[t['status'] for t in mine]} for the task")
        v += check_files(self.ws, self.plan)
        v += check_tool_results(self.plan, self.double.requests, self.key)
        v += check_executions(self.plan, self.double.requests, self.key, self.ws, self.rec.kills, self.rec.reexecuted)
        v += check_events(self.plan, shown, self.clients, self.rec.task_id)
