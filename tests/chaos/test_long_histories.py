"""Long conversations fit the model's context window: a 100-turn conversation under a small window
compacts its older turns (journaled summarising requests that a kill -9 of the worker never sends
again), no request the provider gets is bigger than the window, long tool results are shortened
with a note, and the transcript keeps every turn. Driven through the client API (no editor) against
the OpenAI-compatible double, which records every request."""

from __future__ import annotations

import asyncio
import json
import os
import signal

from dals.agent.context_fit import SUMMARY_LEAD
from dals.client.tasks import TERMINAL, build_spec
from dals.client.transcript import render

WINDOW = 6000  # tokens: the instructions and tool definitions take ~1,700 of them
TURNS = 100
BIG_READ = 42  # the turn that reads a 40,000-character file
SUMMARISING = "You are compacting the conversation"


def prompt(i: int) -> str:
    """Every fifth turn writes a file (a tool call and its result), one reads a big file, the others
    only talk (one model request each: the test stays fast)."""
    if i == BIG_READ:
        return f"Turn {i}: read the big file\n/read_file {json.dumps({'path': 'big.txt'})}"
    content = f"note {i}: " + "lorem ipsum " * 20
    if i % 5 == 0:
        return f"Turn {i}: write note {i}\n/write_file {json.dumps({'path': f'notes/{i}.txt', 'content': content})}"
    return f"Turn {i}: remember {content}"


def first_user(request: dict) -> str:
    users = [m for m in request["messages"] if m.get("role") == "user"]
    content = users[0]["content"] if users else ""
    return content if isinstance(content, str) else json.dumps(content)


def summarising(request: dict) -> bool:
    return first_user(request).startswith(SUMMARISING)


async def turn_ended(service, task_id: str, turn: int, timeout: float = 60) -> dict:
    """The summary once turn `turn` has ended (polled: one small read each time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        summary = (await service.events_since(task_id, 1 << 30))["summary"]
        if summary and summary.get("turns") == turn and summary["status"] in TERMINAL:
            return summary
        assert loop.time() < deadline, f"turn {turn} did not end in {timeout} s: {summary and summary['status']}"
        await asyncio.sleep(0.02)


def kill_after_first_compaction(double, pid: int) -> int:
    """Once the first summarising request was answered and the next request has come (its step is
    journaled by then: a step starts only after the one before is stored), kill -9 the worker."""

    def after(requests):
        done = [i for i, r in enumerate(requests) if summarising(r) and r["status"] == 200]
        return bool(done) and len(requests) > done[0] + 1

    assert double.wait_until(after, 240), "no compaction happened"
    os.kill(pid, signal.SIGKILL)
    return len(double.requests)


async def test_a_100_turn_conversation_compacts_within_a_small_window(chaos_runtime, chaos_double, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "big.txt").write_text("".join(f"line {n:05d} of the big file\n" for n in range(1500)))
    service = chaos_runtime.task_service()
    worker = chaos_runtime.status()["worker"]["pid"]
    start = len(chaos_double.requests)
    spec = build_spec(
        prompt(1),
        tmp_path,
        "openai-chat:double",
        commands_allow=["*"],
        context={"maxTokens": WINDOW, "source": "setting"},
    )
    killer = asyncio.create_task(asyncio.to_thread(kill_after_first_compaction, chaos_double, worker))
    task_id = await service.start(spec)
    for turn in range(1, TURNS + 1):
        if turn > 1:
            await service.follow_up(task_id, prompt(turn))
        summary = await turn_ended(service, task_id, turn, timeout=120 if killer.done() else 60)
        assert summary["status"] == "succeeded", summary.get("error")
    killed_at = await killer
    shown = await service.show(task_id)
    close = getattr(service.api, "close", None)
    if close:
        await close()

    assert chaos_runtime.status()["worker"]["pid"] != worker
    assert shown["turns"] == TURNS and shown["status"] == "succeeded"
    assert len(list((tmp_path / "notes").iterdir())) == TURNS // 5  # every turn did its step
    requests = chaos_double.requests[start:]
    compactions = [
        e for e in shown["events"] if e["kind"] == "log" and (e.get("detail") or {}).get("kind") == "compaction"
    ]
    asked = [r for r in requests if summarising(r)]
    assert len(compactions) >= 3, [e["title"] for e in compactions]  # 5 today
    # each summarising request went out once, the kill -9 right after the first one included
    assert len(asked) == sum(e["detail"]["requests"] for e in compactions)
    assert len({first_user(r) for r in asked}) == len(asked)
    assert killed_at > requests.index(asked[0]) + start
    # no request the provider got was bigger than the window (its whole JSON body, tools included)
    assert max(r["chars"] for r in requests) // 4 <= WINDOW, max(r["chars"] for r in requests)
    # the model sees the summary in place of the older turns
    last = [r for r in requests if not summarising(r)][-1]
    assert first_user(last).startswith(SUMMARY_LEAD) and "Turn 1:" not in json.dumps(last["messages"])
    # the big result was shortened, with a note on how to read the rest
    results = [
        m["content"]
        for r in requests
        for m in r["messages"]
        if m.get("role") == "tool" and "of the big file" in str(m["content"])
    ]
    assert results and all(len(c) < 4000 and "read_file with offset and limit" in c for c in results)
    # the usage counts the summarising requests; the transcript keeps every turn
    assert shown["usage"]["requests"] == TURNS + TURNS // 5 + 1 + len(asked)
    markdown = render(shown)
    assert all(f"Turn {i}:" in markdown for i in range(1, TURNS + 1))
    assert markdown.count("Compacted the conversation") == len(compactions)
