"""The task-list cache behind `dals.listTasks` (`dals.lsp.task_list`), with a fake TaskService."""

from __future__ import annotations

import asyncio
import logging

import pytest

from dals.client.restate_api import RestateUnavailable
from dals.client.task_summary import public_summary
from dals.lsp.task_list import TaskList

WAIT = 5.0


def durable(
    task_id: str, status: str = "running", seq: int = 3, created: str = "2026-01-01T00:00:00.000Z", **extra
) -> dict:
    return {
        "taskId": task_id,
        "title": task_id,
        "prompt": "p",
        "workspace": "/w",
        "model": "offline",
        "status": status,
        "createdAt": created,
        "updatedAt": f"2026-01-01T00:00:{seq:02d}.000Z",
        "steps": seq,
        "lastSeq": seq,
        "lastEvent": None,
        "usage": {"requests": seq, "inputTokens": 10 * seq, "outputTokens": seq, "toolCalls": 0, "replayedRequests": 0},
    } | extra


def listed(summary: dict, invocation: dict | None = None, replayed: dict | None = None) -> dict:
    return public_summary(summary, invocation or {"id": "inv_" + summary["taskId"], "status": "running"}, replayed)


class FakeService:
    """`TaskService.list()` answers what `tasks` holds when called, once `gate` is open."""

    def __init__(self, tasks: list[dict] | None = None):
        self.tasks = tasks or []
        self.pending: dict[str, dict] = {}
        self.gate = asyncio.Event()
        self.gate.set()
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self.entered = asyncio.Event()
        self.error: Exception | None = None

    async def list(self, statuses=None):
        assert statuses is None, "the cache filters itself"
        self.calls += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.entered.set()
        try:
            snapshot = list(self.tasks)  # what Restate holds when the queries run
            await asyncio.wait_for(self.gate.wait(), WAIT)
            if self.error:
                raise self.error
            return snapshot
        finally:
            self.running -= 1


async def settle(listing: TaskList) -> None:
    if listing.refreshing is not None:
        await asyncio.wait_for(asyncio.gather(listing.refreshing, return_exceptions=True), WAIT)


def ids(tasks: list[dict]) -> list[str]:
    return [t["taskId"] for t in tasks]


async def test_first_call_waits_and_concurrent_calls_share_one_refresh():
    service = FakeService([listed(durable("a"))])
    service.gate.clear()
    listing = TaskList(service)
    calls = [asyncio.create_task(listing.list()) for _ in range(5)]
    await asyncio.wait_for(service.entered.wait(), WAIT)
    assert not any(c.done() for c in calls)  # nothing cached: they wait for the real list
    service.gate.set()
    got = await asyncio.wait_for(asyncio.gather(*calls), WAIT)
    assert all(ids(g) == ["a"] for g in got)
    assert service.calls == 1


async def test_cached_answer_and_background_refresh_single_flight():
    service = FakeService([listed(durable("a"))])
    listing = TaskList(service, max_age=0.0)  # every call may start a refresh
    await listing.list()
    service.tasks = [listed(durable("a")), listed(durable("b", created="2026-01-02T00:00:00.000Z"))]
    service.gate.clear()
    for _ in range(10):  # answered from the cache while one refresh waits on Restate
        assert ids(await asyncio.wait_for(listing.list(), WAIT)) == ["a"]
    assert service.calls == 2 and service.most_at_once == 1
    service.gate.set()
    await settle(listing)
    assert ids(await listing.list()) == ["b", "a"]


async def test_at_most_one_refresh_per_max_age():
    service = FakeService([listed(durable("a"))])
    listing = TaskList(service, max_age=3600.0)
    for _ in range(20):
        await listing.list()
    assert service.calls == 1


async def test_a_command_makes_the_next_list_wait_for_a_refresh_after_it():
    service = FakeService([listed(durable("a"))])
    listing = TaskList(service, max_age=0.0)
    await listing.list()
    service.gate.clear()
    await listing.list()  # starts a background refresh that reads Restate before the command
    await asyncio.wait_for(service.entered.wait(), WAIT)
    service.tasks = [listed(durable("a", status="cancelled", seq=4))]  # the command's effect
    listing.invalidate()
    nxt = asyncio.create_task(listing.list())
    service.gate.set()
    got = await asyncio.wait_for(nxt, WAIT)
    assert [t["status"] for t in got] == ["cancelled"]
    assert service.calls == 3 and service.most_at_once == 1  # the in-flight one, then a new one


async def test_a_task_started_here_is_listed_at_once():
    service = FakeService([listed(durable("a"))])
    listing = TaskList(service, max_age=3600.0)
    await listing.list()
    service.gate.clear()
    service.pending["new"] = {
        "taskId": "new",
        "title": "new",
        "prompt": "p",
        "workspace": "/w",
        "createdAt": "2026-02-01T00:00:00.000Z",
        "status": "queued",
        "updatedAt": "2026-02-01T00:00:00.000Z",
        "steps": 0,
        "lastEvent": None,
        "usage": {"requests": 0, "inputTokens": 0, "outputTokens": 0, "toolCalls": 0},
    }
    listing.started()
    got = await asyncio.wait_for(listing.list(), WAIT)  # not waiting for the refresh it started
    assert ids(got) == ["new", "a"] and got[0]["status"] == "queued"
    assert service.calls == 2
    service.gate.set()
    await settle(listing)


async def test_newer_durable_summary_wins_and_drops_the_invocation_view():
    cached = listed(
        durable("a", seq=3),
        {"id": "inv_a", "status": "backing-off", "last_failure": "worker died"},
        {"requests": 2, "inputTokens": 20, "outputTokens": 2},
    )
    assert cached["status"] == "retrying"
    followed = {"a": durable("a", seq=5)}
    listing = TaskList(FakeService([cached]), lambda: followed, max_age=3600.0)
    [got] = await listing.list()
    assert got["status"] == "running" and got["lastSeq"] == 5 and got["steps"] == 5
    assert got["invocationId"] == "inv_a"
    assert got["usage"]["replayedRequests"] == 2 and got["usage"]["replayedInputTokens"] == 20
    assert got["usage"]["requests"] == 5 and "lastFailure" not in got


async def test_older_or_equal_durable_summary_keeps_the_cached_entry():
    cached = listed(durable("a", seq=5), {"id": "inv_a", "status": "paused", "last_failure": "boom"})
    for seq in (4, 5):
        followed = {"a": durable("a", seq=seq)}
        listing = TaskList(FakeService([cached]), lambda: followed, max_age=3600.0)
        [got] = await listing.list()
        assert got["status"] == "paused" and got["lastSeq"] == 5 and got["lastFailure"] == "boom"


async def test_a_newer_terminal_summary_wins_over_paused():
    cached = listed(durable("a", seq=5), {"id": "inv_a", "status": "paused"})
    followed = {"a": durable("a", status="succeeded", seq=6)}
    listing = TaskList(FakeService([cached]), lambda: followed, max_age=3600.0)
    assert [t["status"] for t in await listing.list()] == ["succeeded"]


async def test_a_revision_without_event_is_newer():
    cached = listed(durable("a", seq=5, rev=7))
    followed = {"a": durable("a", seq=5, rev=8, editorRequest={"kind": "open"})}
    listing = TaskList(FakeService([cached]), lambda: followed, max_age=3600.0)
    [got] = await listing.list()
    assert got["rev"] == 8 and got["editorRequest"] == {"kind": "open"}


async def test_followed_tasks_not_listed_yet():
    followed = {
        "live": durable("live", created="2026-03-01T00:00:00.000Z"),
        "purged": durable("purged", status="succeeded", created="2026-02-01T00:00:00.000Z"),
    }
    service = FakeService([listed(durable("a"))])
    listing = TaskList(service, lambda: followed, max_age=3600.0)
    assert ids(await listing.list()) == ["live", "a"]  # an ended task no list has is gone
    service.pending["purged"] = {"taskId": "purged"}  # ... unless it was started here
    assert ids(await listing.list()) == ["live", "purged", "a"]


async def test_status_filter_applies_to_the_overlaid_status():
    followed = {"a": durable("a", status="waiting", seq=9)}
    service = FakeService([listed(durable("a")), listed(durable("b", status="succeeded"))])
    listing = TaskList(service, lambda: followed, max_age=3600.0)
    assert ids(await listing.list(["running"])) == []
    assert ids(await listing.list(["waiting"])) == ["a"]
    assert ids(await listing.list(["waiting", "succeeded"])) == ["a", "b"]
    assert len(await listing.list()) == 2 and len(await listing.list([])) == 2


async def test_a_show_answer_counts_until_a_later_refresh():
    service = FakeService([listed(durable("a", seq=3))])
    listing = TaskList(service, max_age=0.0)
    await listing.list()
    service.gate.clear()
    await listing.list()  # a refresh that read Restate before the showTask answer
    await asyncio.wait_for(service.entered.wait(), WAIT)
    listing.shown(listed(durable("a", status="succeeded", seq=4)) | {"events": [{"seq": 1}]})
    service.gate.set()
    await settle(listing)
    [got] = await listing.list()
    assert got["status"] == "succeeded" and "events" not in got
    service.tasks = [listed(durable("a", status="succeeded", seq=5))]
    await settle(listing)  # the refresh started by the call above, after the answer
    await listing.list()
    await settle(listing)
    assert [t["lastSeq"] for t in await listing.list()] == [5]
    listing.shown({"taskId": "q", "status": "queued", "events": []})  # no summary written yet
    assert ids(await listing.list()) == ["a"]


async def test_unreachable_with_nothing_cached_is_the_service_error():
    service = FakeService()
    service.error = RestateUnavailable("connection refused")
    listing = TaskList(service)
    with pytest.raises(RestateUnavailable, match="connection refused"):
        await listing.list()
    service.error = None
    service.tasks = [listed(durable("a"))]
    assert ids(await listing.list()) == ["a"]  # a later call tries again


async def test_unreachable_with_a_cache_serves_it_and_logs(caplog):
    service = FakeService([listed(durable("a"))])
    listing = TaskList(service, max_age=0.0)
    await listing.list()
    service.error = RestateUnavailable("connection refused")
    caplog.set_level(logging.DEBUG, logger="dals.lsp.task_list")
    listing.invalidate()
    assert ids(await asyncio.wait_for(listing.list(), WAIT)) == ["a"]  # waited, failed, cached
    await settle(listing)
    assert ids(await listing.list()) == ["a"]  # background refresh: fails too
    await settle(listing)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "connection refused" in warnings[0].getMessage()  # once per outage
