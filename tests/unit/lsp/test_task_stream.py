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


async def test_live_text_sent_before_the_follower_watches_reaches_the_client(tmp_path):
    """A turn's first model text can stream before its follower's first read (on a loaded
    machine, always before it for a fast model): `expect`, called before the turn is sent, takes
    it. A real listener and a real sender over loopback UDP."""
    from dals.local.event_wakeups import HintListener, HintSender

    listener = HintListener(tmp_path)
    assert await listener.start()
    notified: list[tuple[str, dict]] = []

    class Protocol:
        def notify(self, method, params):
            notified.append((method, params))

    class Server:
        protocol = Protocol()

    class Service:
        async def hints(self):
            return listener

    stream = TaskStream(server=Server())
    try:
        await stream.expect(Service(), "t1")  # dals.startTask / dals.followUp, before the send
        HintSender(tmp_path).send_delta("t1", 3, "The workspace has")  # the worker, at once
        HintSender(tmp_path).send_delta("t2", 1, "a task nobody expects")
        deadline = asyncio.get_running_loop().time() + 10
        while not notified:
            assert asyncio.get_running_loop().time() < deadline, "the live text never reached the client"
            await asyncio.sleep(0.01)
        assert notified == [("dals/taskDelta", {"taskId": "t1", "seq": 3, "text": "The workspace has"})]
    finally:
        listener.close()
