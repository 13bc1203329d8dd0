"""dals.followUp right after a turn's final event: Restate shows the turn's invocation running for
a moment after its last write. The follow-up waits for it to complete instead of being refused
(tests/integration/test_mcp.py failed so, 1 run in the forced-replay tier under load)."""

from __future__ import annotations

import functools

import pytest

from dals.client.tasks import TaskService, WrongState

TASK = "20261207-120000-abcdef"
SUMMARY = {"taskId": TASK, "status": "succeeded", "turns": 1, "lastSeq": 9, "usage": {}, "model": "offline"}


class FakeApi:
    """Restate as the service sees it: the run invocation `running` for `still_running` queries."""

    def __init__(self, still_running: int):
        self.still_running = still_running
        self.sent: list[tuple[str, str, str]] = []

    async def query(self, sql: str) -> list[dict]:
        status = "running" if self.still_running > 0 else "completed"
        self.still_running -= 1
        return [
            {
                "id": "inv_1",
                "target_service_key": TASK,
                "target_handler_name": "run",
                "status": status,
                "created_at": "2026-12-07T12:00:00Z",
            }
        ]

    async def call(self, service, key, handler, arg=None, timeout=None):
        return {"summary": dict(SUMMARY), "events": []}

    async def send(self, service, key, handler, body, idempotency_key=None):
        self.sent.append((key, handler, idempotency_key))
        return "inv_2"


async def test_a_follow_up_right_after_the_final_event_waits_for_the_invocation(tmp_path, monkeypatch):
    monkeypatch.setenv("DALS_STATE_DIR", str(tmp_path))
    api = FakeApi(still_running=3)
    sent = await TaskService(api).follow_up(TASK, "and then?")
    assert sent == {"taskId": TASK, "turn": 2, "since": 9}
    assert api.sent == [(TASK, "follow_up", f"{TASK}.turn2")]


async def test_a_follow_up_to_a_task_whose_invocation_never_completes_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DALS_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(TaskService, "_completed", functools.partialmethod(TaskService._completed, wait_s=0.2))
    api = FakeApi(still_running=10**6)
    with pytest.raises(WrongState, match="is succeeded: use dals.steer"):
        await TaskService(api).follow_up(TASK, "and then?")
    assert api.sent == []
