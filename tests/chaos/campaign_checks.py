"""What is verified after each campaign run: every failure is a *violation* string.

The rules are those of `tests/chaos/campaign.py`'s docstring: the files end as the plan says, the
model got the right tool results, a step runs again only as DESIGN.md guarantee 1 allows (each
re-execution matched to its own kill of the worker or the server), a command's marker is in
`effects.log` no more often than it ran (and never for one killed with its worker mid-sleep), and
the task's events and every `dals lsp` live stream are numbered without gap or duplicate.
Pure functions of what a run saw: the plan, the double's requests, the workspace, the kills.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.chaos.campaign_observe import read_lines
from tests.chaos.campaign_plan import Plan
from tests.chaos.campaign_records import KillRecord
from tests.support.lsp_client import DalsClient

# Only these lose the step in flight: the task runs in the worker and is journaled by the server.
JOURNAL_TARGETS = ("worker", "restate")
SLACK_S = 1.0  # a request or command already on its way when the kill landed is seen a bit later


def excuse_reruns(
    reruns: list[tuple[float, float, str]], kills: list[KillRecord], log: list[str] | None = None
) -> list[str]:
    """Match every re-execution `(previous start, this start, what)` to the kill that allows it;
    the violations for those that no kill allows (the rule is in campaign.py's docstring)."""
    excuses = sorted(
        (k.wall, k.target) for k in kills if not k.skipped and any(p in JOURNAL_TARGETS for p in k.target.split("+"))
    )
    used: dict[int, str] = {}  # kill -> the re-execution it excused (one each)
    out = []
    for prev, this, what in sorted(reruns, key=lambda r: r[1]):
        if log is not None:
            log.append(what)
        match = next((i for i, (w, _) in enumerate(excuses) if i not in used and prev - SLACK_S <= w <= this), None)
        if match is None:
            # The attempt cut off from a killed server lives on in the worker and may still *start*
            # the step in flight after the crash (it was replaying towards it); the restarted
            # server's attempt then runs it again. So a kill of the server without the worker also
            # excuses a re-execution whose previous execution began after that kill.
            match = next(
                (
                    i
                    for i, (w, target) in enumerate(excuses)
                    if i not in used and "worker" not in target and w <= prev <= this
                ),
                None,
            )
        if match is None:
            out.append(
                f"{what} ran again at +{this - prev:.2f}s with no kill of the worker or server "
                f"in between (only the step in flight at a crash may run again)"
            )
        else:
            used[match] = what
    return out


def check_files(ws: Path, plan: Plan) -> list[str]:
    """Every file the plan wrote or edited has exactly its expected content."""
    v: list[str] = []
    for path, content in plan.final.items():
        try:
            got = (ws / path).read_text()
        except OSError as e:
            got = f"<{e}>"
        if got != content:
            v.append(f"{path}: expected {content!r}, found {got!r}")
    return v


def check_tool_results(plan: Plan, requests: list[dict[str, Any]], key: str) -> list[str]:
    """Every tool result the model got back is right; the last request carries the whole conversation."""
    v: list[str] = []
    n = len(plan.steps)
    final = [r for r in requests if r["key"] == key and r["step"] == n and r["status"] == 200]
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
    return v


def check_executions(
    plan: Plan, requests: list[dict[str, Any]], key: str, ws: Path, kills: list[KillRecord], reexecuted: list[str]
) -> list[str]:
    """Every model request arrived and every command left its marker as often as allowed; each
    re-execution is matched to its own kill (appended to `reexecuted`), or is a violation."""
    v: list[str] = []
    n = len(plan.steps)
    reruns: list[tuple[float, float, str]] = []  # (previous, this, what)
    for step in range(n + 1):
        times = sorted(r["time"] for r in requests if r["key"] == key and r["step"] == step)
        if not times:
            v.append(f"model request {step + 1} never reached the double")
        reruns += [(a, b, f"model request {step + 1}") for a, b in zip(times, times[1:])]
    runs: dict[int, list[float]] = {}
    for line in read_lines(ws / "runs.log"):
        k, _, t = line.partition(" ")
        runs.setdefault(int(k), []).append(float(t))
    effects = read_lines(ws / "effects.log")
    for s in plan.commands:
        times = sorted(runs.get(s.number, []))
        reruns += [(a, b, f"command {s.number}") for a, b in zip(times, times[1:])]
        marks = effects.count(f"m{s.number}")
        # executions killed with their worker while they slept (guarantee 2) add no marker, ever
        died = sum(
            1
            for k in kills
            if k.trigger == "command"
            and not k.skipped
            and k.mid_sleep
            and "worker" in k.target
            and k.in_flight.startswith(f"step {s.number} ")
        )
        if not 1 <= marks <= max(1, len(times)):
            v.append(f"command {s.number}: marker m{s.number} {marks}× in effects.log, ran {len(times)}×")
        elif died and marks > len(times) - died:
            v.append(
                f"command {s.number} ran {len(times)}×, {died}× killed with its worker while it slept, "
                f"yet its marker is {marks}× in effects.log (a command outlived its worker)"
            )
    unknown = sorted(set(effects) - {f"m{s.number}" for s in plan.commands})
    if unknown:
        v.append(f"unexpected lines in effects.log: {unknown}")
    v += excuse_reruns(reruns, kills, reexecuted)
    return v


def check_events(
    plan: Plan, shown: dict[str, Any], clients: list[tuple[int, DalsClient]], task_id: str | None
) -> list[str]:
    """The task's events (`dals.showTask`) and every `dals lsp` live stream: numbered without gap
    or duplicate, the expected count by kind, usage of steps + 1 requests."""
    v: list[str] = []
    n = len(plan.steps)
    events = shown.get("events") or []
    seqs = [e["seq"] for e in events]
    if seqs != list(range(1, len(seqs) + 1)):
        v.append(f"events not contiguous from 1: {seqs}")
    kinds = {
        k: sum(1 for e in events if e["kind"] == k) for k in ("status", "model", "tool", "edit", "approval", "log")
    }
    want = {
        "status": 2,
        "model": n + 1,
        "tool": plan.count("read_file", "run_command"),
        "edit": plan.count("write_file", "edit_file"),
        "approval": 0,
        "log": 0,
    }
    if kinds != want:
        odd = [f"#{e['seq']} {e['kind']}: {e['title']}" for e in events if e["kind"] in ("log", "approval")]
        v.append(f"events by kind {kinds}, expected {want}" + (f"; {odd}" if odd else ""))
    if shown.get("usage", {}).get("requests") != n + 1:
        v.append(f"usage.requests {shown.get('usage', {}).get('requests')}, expected {n + 1}")
    # live streams: each `dals lsp` sends seq in order, no gap, no duplicate; the first one from 1
    # (a `dals lsp` started mid-task goes on from where the journal is)
    for i, (pid, client) in enumerate(clients):
        got = [e["seq"] for e in client.events.get(task_id, [])]
        first = 1 if i == 0 else (got[0] if got else 1)
        if got and got != list(range(first, first + len(got))):
            v.append(f"dals lsp {i + 1} (pid {pid}) sent a gap or a duplicate in dals/taskEvent: {got}")
        # what it showed is what the journal holds, value for value (pushes included: a push whose
        # write a crash lost is written again by the replay, and must come out the same)
        durable = {e["seq"]: e for e in events}
        # (less the task's summary each notification carries beside its event)
        differ = [
            e["seq"]
            for e in client.events.get(task_id, [])
            if durable.get(e["seq"]) != {k: v for k, v in e.items() if k != "summary"}
        ]
        if differ:
            v.append(f"dals lsp {i + 1} (pid {pid}) showed events that differ from the journal's: seq {differ}")
    last_pid, last = clients[-1]
    got = [e["seq"] for e in last.events.get(task_id, [])]
    if got and got[-1] != len(seqs):
        v.append(f"the live stream of dals lsp {len(clients)} (pid {last_pid}) stopped at {got[-1]} of {len(seqs)}")
    return v
