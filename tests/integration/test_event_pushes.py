"""Pushes against a real runtime: a follower that takes the worker's pushes reads from Restate
only now and then, and what it was shown is exactly what Restate holds (Guarantee 4)."""
from __future__ import annotations

import pytest

from dals.cli.follow import follow
from dals.client.restate_api import RestateApi
from dals.client.tasks import TaskService, build_spec
from tests.support.runtime import FORCE_REPLAY

STEPS = 15


async def _follow_one(runtime, tmp_path, monkeypatch, pushes: str) -> tuple[list[dict], int, TaskService]:
    monkeypatch.setenv("DALS_STATE_DIR", runtime.env["DALS_STATE_DIR"])  # the runtime's hint registry
    monkeypatch.setenv("DALS_HINT_PUSHES", pushes)
    st = runtime.status()
    service = runtime.task_service(st)
    (tmp_path / "a.py").write_text("x = 1\n")
    prompt = "\n".join(['/read_file {"path": "a.py"}'] * STEPS)
    spec = build_spec(prompt, tmp_path, "offline")
    assert spec.wakeup == "hint"
    reads = 0
    events_since = service.events_since

    async def counted(task_id, since):
        nonlocal reads
        reads += 1
        return await events_since(task_id, since)

    service.events_since = counted
    await service.start(spec)
    shown: list[dict] = []
    summary = await follow(service, spec.taskId, on_event=lambda e, s: shown.append(e))
    assert summary["status"] == "succeeded"
    return shown, reads, service


@pytest.mark.live  # pushes stand in for reads only for what a live attempt writes
async def test_pushed_events_are_what_restate_holds(runtime, tmp_path, monkeypatch):
    shown, pushed_reads, service = await _follow_one(runtime, tmp_path, monkeypatch, "1")
    try:
        assert [e["seq"] for e in shown] == list(range(1, len(shown) + 1))  # no gap, no duplicate
        assert len(shown) == 2 * STEPS + 5  # start, prompt, STEPS+1 model requests, STEPS tools, answer, end
        durable = await service.events_since(shown[0]["taskId"], 0)
        assert durable["events"] == shown  # the pushed view is the journal's, value for value
    finally:
        service.close_hints()
        await service.api.aclose()
    # the same task followed by a reader that takes no pushes (DALS_HINT_PUSHES=0)
    shown, reads, service = await _follow_one(runtime, tmp_path, monkeypatch, "0")
    try:
        assert [e["seq"] for e in shown] == list(range(1, 2 * STEPS + 6))
    finally:
        service.close_hints()
        await service.api.aclose()
    # pushes stood in for most reads (seen: 4 reads against 26 for 33 events); not under forced
    # replay, where every step is a new attempt (no push is sent for what a replay writes again)
    if not FORCE_REPLAY:
        assert pushed_reads <= len(shown) / 3 and pushed_reads < reads, (pushed_reads, reads)


async def test_a_task_from_before_conversations_journals_as_before(runtime, tmp_path, monkeypatch):
    """`conversation` off (a task started by an older DALS): no message events, no `turns`, no kept
    history; a follow-up is refused, saying why."""
    from dals.client.tasks import WrongState

    monkeypatch.setenv("DALS_STATE_DIR", runtime.env["DALS_STATE_DIR"])
    st = runtime.status()
    service = TaskService(RestateApi(st["restate"]["ingress"], st["restate"]["admin"]))
    try:
        spec = build_spec('Old\n/list_files {}', tmp_path, "offline")
        spec = type(spec).model_validate(spec.model_dump(exclude_unset=True, exclude={"conversation"}))
        await service.start(spec)
        summary = await follow(service, spec.taskId)
        assert summary["status"] == "succeeded" and summary["turns"] == 1  # (shown as one turn)
        shown = await service.show(spec.taskId)
        assert [e["kind"] for e in shown["events"]] == ["status", "model", "tool", "model", "status"]
        raw = (await service.events_since(spec.taskId, 1 << 30))["summary"]
        assert "turns" not in raw
        try:
            await service.follow_up(spec.taskId, "more")
            raise AssertionError("a follow-up of a task without a kept conversation was accepted")
        except WrongState as e:
            assert "before DALS kept conversations" in str(e)
    finally:
        service.close_hints()
        await service.api.aclose()
