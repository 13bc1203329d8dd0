"""eager_steps: the handler gets a step's value before Restate acknowledges it, but the next step,
any other wait on Restate and the hint pushes wait for the acknowledgement; the restate-sdk
internals it wraps still exist. (The same on real processes: tests/chaos/test_eager_steps.py.)"""

from __future__ import annotations

import asyncio

import pytest
from restate import RunOptions, TerminalError
from restate.serde import JsonSerde

from dals.durable import eager_steps
from dals.durable.after_flush import after_flush


class Lazy:
    def __init__(self, fetch):
        self.fetch, self.task = fetch, None

    async def get(self):
        if self.task is None:
            self.task = asyncio.ensure_future(self.fetch())
        return await self.task


class Future:
    def __init__(self, handle, fetch):
        self.handle, self.future = handle, Lazy(fetch)

    def __await__(self):  # as restate-sdk's ServerDurableFuture
        return self.future.get().__await__()


class VM:
    def __init__(self):
        self.acked: set[int] = set()

    def is_completed(self, handle):
        return handle in self.acked


class FakeContext:
    """Stands for restate-sdk's ServerInvocationContext: a run executes its action, proposes the
    value, then polls for Restate's acknowledgement (here: until the test calls `ack`)."""

    def __init__(self, journal: dict[int, bytes] | None = None):
        self.vm = VM()
        self.journal = journal or {}  # handle -> bytes: replayed runs
        self.log: list[str] = []
        self.acks: dict[int, asyncio.Event] = {}
        self.runs = 0

    def run_typed(self, name, action, options=RunOptions(), /, *args, **kwargs):
        handle, self.runs = self.runs, self.runs + 1

        async def fetch():
            if handle in self.journal:
                return options.serde.deserialize(self.journal[handle])
            value = await action(*args, **kwargs)
            self.log.append(f"ran {name}")
            data = options.serde.serialize(value)
            await self.create_poll_or_cancel_coroutine(handle)
            return options.serde.deserialize(data)

        return Future(handle, fetch)

    async def create_poll_or_cancel_coroutine(self, handle):
        self.log.append(f"poll {handle}")
        await self.acks.setdefault(handle, asyncio.Event()).wait()
        self.vm.acked.add(handle)

    def ack(self, handle):
        self.acks.setdefault(handle, asyncio.Event()).set()

    async def take_and_send_output(self):
        self.log.append("flush")

    async def leave(self):
        self.log.append("leave")


async def settle_loop():
    for _ in range(20):
        await asyncio.sleep(0)


JSON = RunOptions(serde=JsonSerde())  # eager steps take the serde their caller names


async def answer(value):
    return value


async def test_the_value_comes_before_the_ack_and_the_next_step_waits_for_it():
    ctx = FakeContext()
    steps = eager_steps.EagerSteps(ctx)
    original = {"tool": "read_file", "args": [1, 2]}

    async def first() -> dict:
        return original

    got = await steps.run("one", first, JSON)
    assert got == {"tool": "read_file", "args": [1, 2]} and got is not original  # as a replay gets it
    assert steps.unacknowledged() and "ran one" in ctx.log

    second = asyncio.ensure_future(steps.run("two", lambda: answer("b"), JSON))
    await settle_loop()
    assert "ran two" not in ctx.log, "the next step started before the acknowledgement"
    ctx.ack(0)
    await settle_loop()
    assert "ran two" in ctx.log and await second == "b"
    ctx.ack(1)
    await steps.settle()
    assert not steps.unacknowledged()


async def test_any_other_wait_on_restate_waits_for_the_ack():
    ctx = FakeContext()
    steps = eager_steps.EagerSteps(ctx)
    await steps.run("one", lambda: answer(1), JSON)
    other = asyncio.ensure_future(ctx.create_poll_or_cancel_coroutine(7))  # e.g. ctx.time(), a sleep
    await settle_loop()
    assert "poll 7" not in ctx.log
    ctx.ack(0)
    ctx.ack(7)
    await other
    assert ctx.log.index("poll 7") > ctx.log.index("poll 0")


async def test_hint_pushes_wait_for_the_ack():
    ctx = FakeContext()
    steps = eager_steps.EagerSteps(ctx)
    pushed: list[str] = []
    await steps.run("one", lambda: answer(1), JSON)
    assert after_flush(ctx, "hint", lambda: pushed.append("event of one"))
    await ctx.take_and_send_output()
    assert pushed == [], "pushed ahead of the journal"
    ctx.ack(0)
    await steps.settle()
    await ctx.take_and_send_output()
    assert pushed == ["event of one"]


async def test_a_replayed_step_returns_the_journal_and_leaves_nothing_pending():
    ctx = FakeContext(journal={0: b'{"from": "journal"}'})
    steps = eager_steps.EagerSteps(ctx)

    async def never() -> dict:
        raise AssertionError("a replayed step must not run")

    assert await steps.run("one", never, JSON) == {"from": "journal"}
    assert not steps.unacknowledged() and ctx.log == []


async def test_a_failing_step_raises_as_a_plain_run_does():
    ctx = FakeContext()
    steps = eager_steps.EagerSteps(ctx)

    async def boom() -> int:
        raise ValueError("tool failed")

    with pytest.raises(ValueError, match="tool failed"):
        await steps.run("one", boom, JSON)
    assert not steps.unacknowledged()


async def test_run_typed_itself_stays_the_sdks():
    ctx = FakeContext()
    eager_steps.EagerSteps(ctx)
    assert ctx.run_typed.__func__ is FakeContext.run_typed  # e.g. ctx.time(): awaited as before


def test_off_by_setting_or_without_the_sdk_internals(monkeypatch):
    monkeypatch.setenv("DALS_EAGER_STEPS", "0")
    assert eager_steps.install(FakeContext()) is None
    monkeypatch.delenv("DALS_EAGER_STEPS")
    assert eager_steps.install(FakeContext()) is not None
    assert eager_steps.install(object()) is None


async def test_the_end_of_an_attempt_stops_every_wait():
    ctx = FakeContext()
    steps = eager_steps.EagerSteps(ctx)
    await steps.run("one", lambda: answer(1), JSON)
    pending = steps.pending
    never = asyncio.Event()

    async def stuck() -> int:
        await never.wait()
        return 2

    running = asyncio.ensure_future(steps.run("two", stuck, JSON))  # waits for the ack of one
    await settle_loop()
    ctx.ack(0)
    await settle_loop()  # two's action now runs (and hangs)
    running.cancel()  # the handler ends on an exception
    steps.cancel()
    await settle_loop()
    assert pending.done() and steps._last is None and steps.pending is None
    assert all(t.done() for t in asyncio.all_tasks() if t is not asyncio.current_task())


async def test_with_the_sdks_default_serde_a_step_is_a_plain_run():
    ctx = FakeContext()
    steps = eager_steps.EagerSteps(ctx)
    ctx.ack(0)  # Restate's acknowledgement, which a plain run waits for
    assert await steps.run("one", lambda: answer({"a": 1})) == {"a": 1}
    assert not steps.unacknowledged()


class CancelledContext(FakeContext):
    """Restate's cancel signal: the first poll of a handle in `cancel_at` raises the SDK's
    TerminalError 409 (delivered once); later polls go on."""

    def __init__(self, cancel_at: set[int]):
        super().__init__()
        self.cancel_at = cancel_at

    async def create_poll_or_cancel_coroutine(self, handle):
        if handle in self.cancel_at:
            self.cancel_at.discard(handle)
            self.log.append(f"cancel seen at {handle}")
            raise TerminalError("cancelled", 409)
        return await super().create_poll_or_cancel_coroutine(handle)


async def test_a_cancel_seen_while_a_step_is_acknowledged_comes_at_the_next_wait():
    """As a replay sees it when Restate journaled the signal before the step's completion: the step's
    value, then the cancel at the next wait (not at the step, which the handler has gone past)."""
    ctx = CancelledContext({0})
    steps = eager_steps.EagerSteps(ctx)
    assert await steps.run("one", lambda: answer(1), JSON) == 1
    await settle_loop()
    assert "cancel seen at 0" in ctx.log and steps.cancel_kept
    ctx.ack(0)  # the step's wait went on to its completion
    with pytest.raises(TerminalError) as raised:
        await ctx.create_poll_or_cancel_coroutine(7)  # e.g. ctx.time()
    assert raised.value.status_code == 409 and "poll 7" not in ctx.log
    assert not steps.cancel_kept  # told once: the handler's own waits (its cancel path) go on
    ctx.ack(8)
    await ctx.create_poll_or_cancel_coroutine(8)


async def test_after_a_kept_cancel_the_next_step_fails_without_running():
    ctx = CancelledContext({0})
    steps = eager_steps.EagerSteps(ctx)
    await steps.run("one", lambda: answer(1), JSON)
    ctx.ack(0)

    async def two() -> int:
        ctx.log.append("two ran")
        return 2

    with pytest.raises(TerminalError) as raised:
        await steps.run("two", two, JSON)
    assert raised.value.status_code == 409 and "two ran" not in ctx.log
    assert not steps.cancel_kept
