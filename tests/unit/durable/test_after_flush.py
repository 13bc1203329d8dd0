"""after_flush: callbacks run right after the SDK's flush of journaled output, the latest per key,
and the restate-sdk methods it wraps still exist."""

from __future__ import annotations

import pytest

from dals.durable.after_flush import after_flush, supported


class FakeContext:
    """Stands for restate-sdk's ServerInvocationContext: the two flushing coroutines."""

    def __init__(self, log: list[str], fail: bool = False):
        self.log = log
        self.fail = fail

    async def take_and_send_output(self):
        self.log.append("flush")
        if self.fail:
            raise ConnectionError("stream closed")

    async def leave(self):
        self.log.append("leave")


async def test_callbacks_run_after_the_next_flush_latest_per_key():
    log: list[str] = []
    ctx = FakeContext(log)
    assert after_flush(ctx, "hint", lambda: log.append("hint 1"))
    assert after_flush(ctx, "hint", lambda: log.append("hint 2"))  # replaces hint 1
    assert after_flush(ctx, "other", lambda: log.append("other"))
    assert log == []  # nothing before the flush
    await ctx.take_and_send_output()
    assert log == ["flush", "hint 2", "other"]
    await ctx.take_and_send_output()  # nothing pending: nothing more
    assert log == ["flush", "hint 2", "other", "flush"]
    after_flush(ctx, "hint", lambda: log.append("hint 3"))
    await ctx.leave()  # the end of the invocation flushes too
    assert log[-2:] == ["leave", "hint 3"]


async def test_a_failed_flush_still_runs_the_callback_and_a_failing_callback_is_contained():
    log: list[str] = []
    ctx = FakeContext(log, fail=True)
    after_flush(ctx, "boom", lambda: 1 / 0)
    after_flush(ctx, "hint", lambda: log.append("hint"))
    with pytest.raises(ConnectionError):
        await ctx.take_and_send_output()
    assert log == ["flush", "hint"]


def test_a_context_without_the_flush_methods_is_refused():
    class Other:
        def take_and_send_output(self):  # not a coroutine function
            pass

    assert not supported(Other()) and not after_flush(Other(), "hint", lambda: None)
