"""The task stream's cursor: a task followed already keeps what its client got."""

from __future__ import annotations

import asyncio

from dals.lsp.task_stream import TaskStream


async def test_following_a_followed_task_again_does_not_skip_its_events():
    stream = TaskStream(server=None)
    held = asyncio.Event()

    async def follower():
        await held.wait()

    stream.followers["t1"] = asyncio.get_running_loop().create_task(follower())
    stream.cursors["t1"] = 0
    # the list of unfinished tasks at start saw the task this client just started at event 2
    stream.follow(service=None, task_id="t1", since=2)
    assert stream.cursors["t1"] == 0
    stream.follow(service=None, task_id="t1", since=0, after=5)  # a follow-up sent meanwhile
    assert stream.ends_after["t1"] == 5
    held.set()
    await stream.followers["t1"]
