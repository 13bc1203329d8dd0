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


async def test_a_follow_up_while_the_last_turn_is_being_finished_gets_a_new_reader():
    """The reader read the turn to its end, and its follower is still sending that last page (its
    task not done): a follow-up sent then gets a reader of its own, else its events never come."""
    stream = TaskStream(server=None)
    held = asyncio.Event()

    async def finishing():
        await held.wait()

    class Ended:
        finished = True
        after = 0

    stream.followers["t1"] = asyncio.get_running_loop().create_task(finishing())
    stream.readers["t1"] = Ended()
    stream.cursors["t1"] = 7
    started = []
    stream._follow = lambda service, task_id, announce_end: finishing_and_record(started, task_id)

    async def finishing_and_record(started, task_id):
        started.append(task_id)

    stream.follow(service=None, task_id="t1", since=7, after=7)
    await asyncio.sleep(0)
    assert started == ["t1"] and stream.readers["t1"].cursor == 7 and stream.readers["t1"].after == 7
    held.set()
