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

The campaign goes on until `--kills` kills are done, however long that takes on a loaded machine;
`--max-minutes` (default 90, 0 for none) is only a safety cap, and the report says when it stopped
the campaign short.

The code: `campaign_plan.py` (plans and kill schedules), `campaign_run.py` (one run under kills),
`campaign_checks.py` (the checks above), `campaign_observe.py` (pids, health, waits),
`campaign_records.py` (what a run records); this module is the campaign, its report and the CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.chaos.campaign_plan import TARGETS, TRIGGERS, Plan, make_plan, plan_kills
from tests.chaos.campaign_records import RunRecord
from tests.chaos.campaign_run import Run
from tests.support.lsp_client import DalsClient
from tests.support.openai_double import OpenAIDouble
from tests.support.runtime import Runtime, pid_alive


# --- the campaign ----------------------------------------------------------------------------------
class Campaign:
    """Runs after runs until `kills` kills are done (or just the runs of `run_seeds`).

    `max_seconds` is a safety cap, not a budget: checked before each run, it stops a campaign that
    would otherwise go on far too long and says so in `stopped_early`; None (pytest's default) for
    none. A campaign whose kill moments keep missing stops too, after 5 runs per kill asked, and so
    does one whose runtime did not come back after a kill (no later run could run).
    """

    def __init__(
        self,
        runtime: Runtime,
        double: OpenAIDouble,
        seed: int,
        kills: int,
        min_steps: int = 5,
        max_steps: int = 30,
        timeout: float = 180.0,
        max_seconds: float | None = None,
        verbose: bool = True,
        same_file_gap: int = 4,
        max_kills_per_run: int = 4,
        run_seeds: list[int] | None = None,
    ):
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
                if self._runtime_lost(rec):
                    break
            return
        while self.kills < self.target:
            if self.max_seconds and time.monotonic() - self.started > self.max_seconds:
                self.stopped_early = (
                    f"safety cap of {self.max_seconds / 60:.0f} min reached after {self.kills} of {self.target} kills"
                )
                self.log(self.stopped_early)
                break
            index += 1
            run = Run(self, index, rng.getrandbits(32), self.target - self.kills)
            rec = await run.execute()
            self.runs.append(rec)
            self.log(
                f"run {index} done in {rec.duration_s}s, {rec.kills_done} kills, "
                f"re-executed {rec.reexecuted or 'nothing'}, violations: {rec.violations or 'none'}"
            )
            if self._runtime_lost(rec):
                break
            if len(self.runs) > 5 * self.target:  # the moments keep missing: something is off
                self.stopped_early = f"{len(self.runs)} runs for {self.kills} kills"
                break

    def _runtime_lost(self, rec: RunRecord) -> bool:
        """True (and said in `stopped_early`) when `rec`'s killed parts never came back."""
        if rec.runtime_lost:
            self.stopped_early = f"run {rec.index}: the runtime did not come back after a kill"
            self.log(self.stopped_early)
        return rec.runtime_lost

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
        return sorted(
            k.recovery_s
            for r in self.runs
            for k in r.kills
            if not k.skipped and k.recovery_s is not None and k.target == part
        )

    def summary(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "kills": self.kills,
            "target": self.target,
            "runs": len(self.runs),
            "steps": sum(r.steps for r in self.runs),
            "skipped": sum(1 for r in self.runs for k in r.kills if k.skipped),
            "reexecuted": sum(len(r.reexecuted) for r in self.runs),
            "violations": len(self.violations),
            "failed_runs": len(self.failed_runs),
            "duration_s": self.duration_s,
            "unavailable": sum(len(r.unavailable) for r in self.runs),
            "unavailable_max_s": max((u["window_s"] for r in self.runs for u in r.unavailable), default=0.0),
            "by_target": self.by_target(),
            "by_trigger": self.by_trigger(),
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
            "- kills by target: " + ", ".join(f"{k} {n}" for k, n in s["by_target"].items()),
            "- kills by moment: " + ", ".join(f"{k} {n}" for k, n in s["by_trigger"].items()),
            f"- steps executed again (all matched to a kill of the worker or server): {s['reexecuted']}",
            f"- **violations: {s['violations']}** in {s['failed_runs']} run(s)",
            f'- transient "DALS runtime unavailable" answers to dals.listTasks/showTask after a server restart '
            f"(retried, not violations): {s['unavailable']}, longest {s['unavailable_max_s']:.2f} s",
            f"- wall time {self.duration_s:.0f} s (runs: median "
            f"{sorted(r.duration_s for r in self.runs)[len(self.runs) // 2] if self.runs else 0:.1f} s)",
            "- recovery (kill → killed parts back with a new pid and healthy): "
            + "; ".join(f"{t} {stats(self.recoveries(t))}" for t in TARGETS),
            "",
        ]
        if self.violations:
            lines += ["## Violations", ""] + ["- " + v.replace("\n", "\n  ") for v in self.violations]
            lines += [f"- run {r.index}: workspace kept in `{r.kept}`" for r in self.failed_runs if r.kept] + [""]
        lines += [
            "## Runs",
            "",
            "| run | seed | steps | kills: target @ s (moment; in flight; recovery s) | re-executed | s | violations |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.runs:
            ks = "<br>".join(
                f"{k.target} — skipped ({k.trigger})"
                if k.skipped
                else f"{k.target} @ {k.at_s} ({k.trigger}{' — ' + k.note if k.note else ''}; {k.in_flight}; "
                f"{k.recovery_s})"
                for k in r.kills
            )
            lines.append(
                f"| {r.index} | {r.seed} | {r.steps} | {ks} | {', '.join(r.reexecuted) or '–'} | "
                f"{r.duration_s} | {len(r.violations) or '–'} |"
            )
        return "\n".join(lines) + "\n"


# --- as a program ----------------------------------------------------------------------------------
async def _main(args: argparse.Namespace) -> int:
    # SIGTERM (and SIGINT, which a background job ignores) stop the campaign and its runtime cleanly
    me = asyncio.current_task()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, me.cancel)
    state = Path(tempfile.mkdtemp(prefix="dals-campaign-state-"))
    with OpenAIDouble(model="double") as double:
        rt = Runtime(
            state,
            {"OPENAI_BASE_URL": double.base_url, "OPENAI_API_KEY": "test-key", "DALS_MODEL": "openai-chat:double"},
        )
        await asyncio.to_thread(rt.up)
        campaign = Campaign(
            rt,
            double,
            args.seed,
            args.kills,
            min_steps=args.min_steps,
            max_steps=args.max_steps,
            timeout=args.timeout,
            max_seconds=args.max_minutes * 60 if args.max_minutes else None,
            same_file_gap=args.same_file_gap,
            run_seeds=args.run,
        )
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
        Path(args.json).write_text(
            json.dumps({"summary": campaign.summary(), "runs": [r.to_json() for r in campaign.runs]}, indent=1)
        )
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
    ap.add_argument(
        "--run",
        type=int,
        action="append",
        metavar="SEED",
        help="replay only the run with this seed (repeatable); --kills is then ignored",
    )
    ap.add_argument(
        "--same-file-gap",
        type=int,
        default=4,
        help="steps between two changes of one file (1: back to back, hits the watcher bug)",
    )
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds for any one wait")
    ap.add_argument(
        "--max-minutes",
        type=float,
        default=90.0,
        help="safety cap: start no new run after this long, even if fewer kills were done "
        "(the report says so); 0 for no cap. The campaign otherwise runs until --kills "
        "kills are done",
    )
    return asyncio.run(_main(ap.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Campaign", "Plan", "make_plan", "plan_kills", "pid_alive"]
