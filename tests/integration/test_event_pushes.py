"""Event delivery against a real runtime, through the followers' one loop (`client.task_follow`):
a follower that takes the worker's pushes reads from Restate only now and then, and what it was
shown is exactly what Restate holds (Guarantee 4); a task whose worker does not share the front
end's state dir falls back to Restate (TaskFeed, EditorSessions) by itself."""

from __future__ import annotations

import pytest

from dals.cli.follow import follow
from dals.client.restate_api import RestateApi
from dals.client.tasks import TaskService, build_spec
from tests.support.runtime import FORCE_REPLAY

STEPS = 15


async def _follow_one(
    runtime, tmp_path, monkeypatch, origin: str | None = None, then: str = ""
) -> tuple[list[dict], dict, dict]:
    """Start a task of STEPS reads (its spec's `origin` replaced when given) and a command `then`,
    and follow it as the CLI does; (events shown, its durable summary, what the follower called)."""
    monkeypatch.setenv("DALS_STATE_DIR", runtime.env["DALS_STATE_DIR"])  # the runtime's hint registry
    service = runtime.task_service(runtime.status())
    (tmp_path / "a.py").write_text("x = 1\n")
    prompt = "\n".join(
        ['/read_file {"path": "a.py"}'] * STEPS + ([f'/run_command {{"command": "{then}"}}'] if then else [])
    )
    spec = build_spec(prompt, tmp_path, "offline", commands_allow=["*"], **({"origin": origin} if origin else {}))
    assert spec.origin and "wakeup" not in spec.model_dump(exclude_unset=True)  # the worker chooses
    calls = {"reads": 0, "long-polls": 0}
    events_since, wait_change = service.events_since, service.wait_change

    async def counted_read(task_id, since):
        calls["reads"] += 1
        return await events_since(task_id, since)

    async def counted_poll(task_id, version):
        calls["long-polls"] += 1
        return await wait_change(task_id, version)

    service.events_since, service.wait_change = counted_read, counted_poll
    try:
        await service.start(spec)
        shown: list[dict] = []
        summary = await follow(service, spec.taskId, on_event=lambda e, s: shown.append(e))
        assert summary["status"] == "succeeded"
        steps = STEPS + (1 if then else 0)
        assert [e["seq"] for e in shown] == list(range(1, 2 * steps + 6))  # no gap, no duplicate
        durable = await events_since(spec.taskId, 0)
        assert durable["events"] == shown  # what the follower showed is the journal's, value for value
        return shown, durable["summary"], calls
    finally:
        service.close_hints()
        await service.api.aclose()


@pytest.mark.live  # pushes stand in for reads only for what a live attempt writes
async def test_pushed_events_are_what_restate_holds(runtime, tmp_path, monkeypatch):
    shown, summary, calls = await _follow_one(runtime, tmp_path, monkeypatch)
    assert summary["wakeup"] == "hint" and calls["long-polls"] == 0  # the worker shares the state dir
    # pushes stood in for most reads (seen: 4 reads for 35 events); not under forced replay, where
    # every step is a new attempt (no push is sent for what a replay writes again)
    if not FORCE_REPLAY:
        assert calls["reads"] <= len(shown) / 3, calls


async def test_a_worker_elsewhere_falls_back_to_restate_by_itself(runtime, tmp_path, monkeypatch):
    """A front end whose state dir the worker does not share (its id is not the worker's): the
    worker chooses the feed, EditorSessions and the TaskNotes call in a journaled step, and the
    same follower loop long-polls TaskFeed instead of waiting for datagrams."""
    shown, summary, calls = await _follow_one(
        runtime, tmp_path, monkeypatch, origin="a-state-dir-elsewhere", then="sleep 2"
    )  # the follower waits: on TaskFeed
    assert "wakeup" not in summary and "rev" not in summary  # a feed task: no hints, no revisions
    assert calls["long-polls"] >= 1, calls
    st = runtime.status()["restate"]
    api = RestateApi(st["ingress"], st["admin"])
    try:
        [inv] = await api.query(
            "SELECT id FROM sys_invocation WHERE target_service_name = 'AgentTask' "
            f"AND target_service_key = '{summary['taskId']}' AND target_handler_name = 'run'"
        )
        names = [r.get("name") or "" for r in await api.query(f"SELECT name FROM sys_journal WHERE id = '{inv['id']}'")]
    finally:
        await api.aclose()
    assert "where the task's clients are" in names  # the choice, journaled: replays and follow-ups keep it
    assert not any(n.startswith("editor for ") for n in names)  # no state-dir registry read: EditorSessions


async def test_a_task_from_before_conversations_journals_as_before(runtime, tmp_path, monkeypatch):
    """`conversation` off (a task started by an older DALS): no message events, no `turns`, no kept
    history; a follow-up is refused, saying why."""
    from dals.client.tasks import WrongState

    monkeypatch.setenv("DALS_STATE_DIR", runtime.env["DALS_STATE_DIR"])
    st = runtime.status()
    service = TaskService(RestateApi(st["restate"]["ingress"], st["restate"]["admin"]))
    try:
        spec = build_spec("Old\n/list_files {}", tmp_path, "offline")
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
