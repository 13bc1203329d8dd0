"""Conversations: a follow-up on a long history, and the transcript of a long task, through a real
`dals lsp` (pytest-lsp client over stdio) on a private runtime with the offline model.

    .venv/bin/python bench/conversations.py [--quick]

- follow-up → first new event: a task of N `run_command true` lines (2N+1 journaled steps: the
  history every follow-up's model request carries), then R follow-ups of one step each; for each,
  the time from sending `dals.followUp` to the turn's first `dals/taskEvent` (its `message` event)
  at the client, and to the turn's end.
- transcript: `dals.transcript` of that task (about 2N+10 events, more with each follow-up),
  round trip at the client, R times; beside it, in this process, the task's events read as
  `dals.showTask` reads them (one SQL read of the task's state) and as it read them before (pages
  of 500 events through the `AgentTask/events` handler, the later pages at once).
- delta latency: tasks on the OpenAI-compatible double (tests/support/openai_double.py), whose
  final answers stream word by word (`stream_gap` apart); for each text chunk, the time from the
  double writing it to the `dals/taskDelta` carrying it at the client (the double's answer to a
  prompt without a plan, "No plan in the prompt.", is 5 chunks).
Targets (issue 19): follow-up → first new event <= 300 ms on a 200-step history; transcript of a
1,000-event task <= 200 ms; delta latency p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

TARGET_FOLLOW_UP_MS = 300.0
TARGET_TRANSCRIPT_MS = 200.0
TARGET_DELTA_P95_MS = 50.0


async def paged(service, task_id: str) -> list[dict]:
    """The task's events as `TaskService.show` read them before: its invocation, then pages through
    `AgentTask/events` beside the replay counts, the later pages at once."""
    from dals.client.tasks import PAGE

    await service._invocations(task_id)
    page, _ = await asyncio.gather(service.events_since(task_id, 0), service._replayed(task_id))
    events, last = page["events"], page["summary"]["lastSeq"]
    pages = await asyncio.gather(*(service.events_since(task_id, since) for since in range(PAGE, last, PAGE)))
    return events + [e for p in pages for e in p["events"]]


def plan(lines: int) -> str:
    return "\n".join(["Long history"] + ['/run_command {"command": "true"}'] * lines)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 steps of history, 3 follow-ups")
    ap.add_argument("--lines", type=int, default=None, help="run_command lines of the first turn")
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args()
    lines = args.lines or (50 if args.quick else 500)
    rounds = args.rounds or (3 if args.quick else 7)
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)
    ws = h.make_workspace()
    first_ms, end_ms, transcript_ms, delta_ms, state_ms, pages_ms = [], [], [], [], [], []
    repo = str(Path(__file__).resolve().parents[1])
    sys.path.insert(0, repo)
    from tests.support.openai_double import OpenAIDouble

    double = OpenAIDouble(model="double").start()
    double.stream_gap = 0.02
    import os

    os.environ.update({"OPENAI_BASE_URL": double.base_url, "OPENAI_API_KEY": "bench-key"})
    with h.private_runtime() as st:
        print(f"runtime up in {st['upSeconds']:.2f} s (state dir {st['stateDir']})", flush=True)
        service = h.task_service(st)
        async with h.lsp_client(ws, env=h.lsp_env("hint")) as client:
            task_id = (await client.command("dals.startTask", {"prompt": plan(lines)}))["taskId"]
            await client.wait_finished(task_id, timeout=1200)
            shown = await client.command("dals.showTask", {"taskId": task_id})
            print(f"first turn: {shown['steps']} steps, {len(shown['events'])} events", flush=True)
            for r in range(rounds):
                last = (await client.command("dals.showTask", {"taskId": task_id}))["lastSeq"]
                sent = time.time()
                await client.command("dals.followUp", {"taskId": task_id, "prompt": f"Round {r}\n/list_files {{}}"})
                evs = await client.wait_event(task_id, lambda evs: any(e["seq"] > last for e in evs), 60)
                first = min(e["receivedAt"] for e in evs if e["seq"] > last)
                evs = await client.wait_event(
                    task_id,
                    lambda evs: any(
                        e["seq"] > last and e["kind"] == "status" and e["status"] == "succeeded" for e in evs
                    ),
                    120,
                )
                end = max(e["receivedAt"] for e in evs if e["seq"] > last)
                first_ms.append((first - sent) * 1e3)
                end_ms.append((end - sent) * 1e3)
                t0 = time.perf_counter()
                got = await client.command("dals.transcript", {"taskId": task_id})
                transcript_ms.append((time.perf_counter() - t0) * 1e3)
                t0 = time.perf_counter()
                one = await service.show(task_id)
                state_ms.append((time.perf_counter() - t0) * 1e3)
                t0 = time.perf_counter()
                assert [e["seq"] for e in await paged(service, task_id)] == [e["seq"] for e in one["events"]]
                pages_ms.append((time.perf_counter() - t0) * 1e3)
                print(
                    f"  round {r + 1}: first event {first_ms[-1]:.0f} ms, turn end {end_ms[-1]:.0f} ms, "
                    f"transcript {transcript_ms[-1]:.0f} ms ({len(got['markdown']):,} chars); events read "
                    f"{state_ms[-1]:.0f} ms (state), {pages_ms[-1]:.0f} ms (pages)",
                    flush=True,
                )
            events = len((await client.command("dals.showTask", {"taskId": task_id}))["events"])
            for r in range(rounds):  # delta latency, one streamed task at a time
                double.stream_log.clear()
                tid = (
                    await client.command("dals.startTask", {"prompt": f"Deltas {r}", "model": "openai-chat:double"})
                )["taskId"]
                await client.wait_finished(tid, timeout=120)
                sent = [
                    (t, d["choices"][0]["delta"]["content"])
                    for t, d in double.stream_log
                    if isinstance(d, dict) and d.get("choices") and d["choices"][0]["delta"].get("content")
                ]
                got = client.deltas.get(tid, [])
                assert [x for _, x in sent] == [d["text"] for d in got], (sent[:3], got[:3])
                delta_ms += [(d["receivedAt"] - t) * 1e3 for (t, _), d in zip(sent, got)]
                print(f"  deltas {r + 1}: {len(got)} chunks, p50 {h.pct(delta_ms[-len(got) :], 50):.1f} ms", flush=True)
        await h.close_service(service)
    double.stop()
    print(f"\n## Conversations (history of {2 * lines + 1} journaled steps; transcript of up to {events} events; ms)\n")
    print(
        h.table(
            ["measure", "n", "p50 ms", "p95 ms", "max ms"],
            [
                h.summary_row("dals.followUp → first new event at the client", first_ms),
                h.summary_row("dals.followUp → the turn's end at the client (2 model requests, 1 tool)", end_ms),
                h.summary_row(f"dals.transcript round trip ({events} events)", transcript_ms),
                h.summary_row("  dals.showTask's reads now: the invocation, then one state read (SQL)", state_ms),
                h.summary_row(
                    "  the same, as read before: the invocation, then pages through AgentTask/events", pages_ms
                ),
                h.summary_row("text chunk written by the model double → dals/taskDelta at the client", delta_ms),
            ],
        )
    )
    f50, t50 = h.median(first_ms), h.median(transcript_ms)
    print(
        f"\ntarget follow-up → first event <= {TARGET_FOLLOW_UP_MS:.0f} ms: {h.met(f50, TARGET_FOLLOW_UP_MS)} "
        f"(median {f50:.0f} ms); transcript <= {TARGET_TRANSCRIPT_MS:.0f} ms: "
        f"{h.met(t50, TARGET_TRANSCRIPT_MS)} (median {t50:.0f} ms); delta p95 <= {TARGET_DELTA_P95_MS:.0f} ms: "
        f"{h.met(h.pct(delta_ms, 95), TARGET_DELTA_P95_MS)} ({h.pct(delta_ms, 95):.1f} ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
