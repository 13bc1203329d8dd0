"""Wake-up hints over real loopback UDP: registration, sending, waiting, stale listeners."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

from dals.local import event_wakeups
from dals.local.event_wakeups import HintListener, HintSender, ReadPacer, registry_dir


async def _started(tmp_path) -> HintListener:
    listener = HintListener(registry_dir(tmp_path))
    assert await listener.start()
    return listener


async def test_a_hint_wakes_a_waiting_follower(tmp_path):
    listener = await _started(tmp_path)
    try:
        [entry] = os.listdir(registry_dir(tmp_path))
        assert entry.startswith(f"{os.getpid()}-")
        registration = registry_dir(tmp_path) / entry  # takes pushes, with a token only the user can read
        assert registration.read_bytes() == b"push " + listener._token and len(listener._token) == 32
        assert registration.stat().st_mode & 0o077 == 0
        assert listener._transport.get_extra_info("sockname")[0] == "127.0.0.1"  # loopback only
        sender = HintSender(registry_dir(tmp_path))
        waiting = asyncio.ensure_future(listener.wait("t1", 0, timeout=10))
        await asyncio.sleep(0)
        assert not waiting.done()
        sender.send("t1", 3)
        assert await asyncio.wait_for(waiting, 10) is True
        assert listener.latest("t1") == 3 and listener.latest("t2") == 0
        # an older revision does not lower what is known, and a hint already seen returns at once
        sender.send("t1", 2)
        assert await listener.wait("t1", 2, timeout=10) is True
        assert listener.latest("t1") == 3
    finally:
        listener.close()
    assert os.listdir(registry_dir(tmp_path)) == []


async def test_wait_times_out_without_a_hint_and_ignores_garbage(tmp_path):
    listener = await _started(tmp_path)
    try:
        port = int(os.listdir(registry_dir(tmp_path))[0].split("-")[1])
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=("127.0.0.1", port))
        for junk in (b"", b"t1", b"t1 x", b"t1 -1", b"t1 " + b"9" * 300, b"\xff\xfe 1"):
            transport.sendto(junk)
        transport.close()
        assert await listener.wait("t1", 0, timeout=0.3) is False
        assert listener.latest("t1") == 0
    finally:
        listener.close()


async def test_a_hint_for_a_revision_already_seen_still_wakes(tmp_path):
    """After a crash the worker writes a revision again; its first hint came before the loss."""
    listener = await _started(tmp_path)
    try:
        sender = HintSender(registry_dir(tmp_path))
        sender.send("t1", 5)
        assert await listener.wait("t1", 4, timeout=10)
        waiting = asyncio.ensure_future(listener.wait("t1", 5, timeout=10))
        await asyncio.sleep(0)
        sender.send("t1", 5)
        assert await asyncio.wait_for(waiting, 10) is True
    finally:
        listener.close()


async def test_dead_listeners_are_pruned_and_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(event_wakeups, "REGISTRY_REFRESH_S", 0.0)  # read the registry every time
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    directory = registry_dir(tmp_path)
    directory.mkdir()
    stale = directory / f"{int(dead.stdout)}-9"
    stale.touch()
    sender = HintSender(directory)
    assert sender._targets() == []  # the dead pid's port is not a target
    listener = await _started(tmp_path)
    try:
        assert not stale.exists()  # removed by the next listener to start
        assert len(sender._targets()) == 1
    finally:
        listener.close()
    assert sender._targets() == []


async def test_no_registry_means_no_hints_and_no_error(tmp_path):
    HintSender(tmp_path / "missing").send("t1", 1)
    listener = HintListener(tmp_path / "file" / "wakeups")
    (tmp_path / "file").write_text("not a dir")
    assert await listener.start() is False and not listener.active


async def test_pacer_rereads_at_once_while_reads_bring_something(tmp_path):
    listener = await _started(tmp_path)
    try:
        sender, pacer = HintSender(registry_dir(tmp_path)), ReadPacer(listener, "t1")
        sender.send("t1", 3)
        assert await listener.wait("t1", 2, timeout=10)
        t = asyncio.get_running_loop().time()
        await pacer.before_next_read(rev=2)  # the read brought rev 2, a hint for 3 is in
        assert asyncio.get_running_loop().time() - t < 0.5 and pacer.early_reads == 0
    finally:
        listener.close()


async def test_pacer_backs_off_for_an_early_hint_then_gives_it_up(tmp_path, monkeypatch):
    monkeypatch.setattr(event_wakeups, "SAFETY_POLL_S", 0.2)
    listener = await _started(tmp_path)
    try:
        HintSender(registry_dir(tmp_path)).send("t1", 5)
        assert await listener.wait("t1", 0, timeout=10)
        pacer = ReadPacer(listener, "t1")
        await pacer.before_next_read(rev=4)  # brought rev 4 (progress), hint 5 ahead: at once
        for attempt in range(len(event_wakeups.EARLY_HINT_BACKOFF_S)):  # Restate never shows 5
            await pacer.before_next_read(rev=4)
            assert pacer.early_reads == attempt + 1
        t = asyncio.get_running_loop().time()
        await pacer.before_next_read(rev=4)  # backoff spent: hint 5 is given up, wait for a new one
        assert asyncio.get_running_loop().time() - t >= 0.15 and pacer.early == 0
    finally:
        listener.close()


async def test_pacer_waits_for_the_next_hint_when_caught_up(tmp_path):
    listener = await _started(tmp_path)
    try:
        pacer = ReadPacer(listener, "t1")
        waiting = asyncio.ensure_future(pacer.before_next_read(rev=7))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        HintSender(registry_dir(tmp_path)).send("t1", 8)
        await asyncio.wait_for(waiting, 10)
    finally:
        listener.close()


async def test_pacer_reads_no_sooner_than_the_apply_wait_after_a_hint(tmp_path, monkeypatch):
    monkeypatch.setattr(event_wakeups, "APPLY_WAIT_S", 0.2)
    listener = await _started(tmp_path)
    try:
        sender, pacer = HintSender(registry_dir(tmp_path)), ReadPacer(listener, "t1")
        waiting = asyncio.ensure_future(pacer.before_next_read(rev=7))
        sender.send("t1", 8)
        await asyncio.wait_for(waiting, 10)
        assert time.monotonic() - listener.arrived["t1"] >= 0.2
        sender.send("t1", 9)  # comes during the next read, which brings rev 8
        assert await listener.wait("t1", 8, timeout=10)
        await asyncio.sleep(0.25)
        t = time.monotonic()
        await pacer.before_next_read(rev=8)  # hint 9 came more than the wait ago: read at once
        assert time.monotonic() - t < 0.15
    finally:
        listener.close()


def _summary(rev: int, **more) -> dict:
    return {"taskId": "t1", "prompt": "the prompt", "rev": rev, "lastSeq": rev, "status": "running", **more}


def _event(seq: int) -> dict:
    return {"taskId": "t1", "seq": seq, "kind": "tool", "title": f"step {seq}", "status": "running", "at": "x"}


async def _pushed(listener: HintListener, rev: int) -> None:
    assert await listener.wait("t1", rev - 1, timeout=10)
    assert listener.latest("t1") >= rev


async def test_a_push_stands_in_for_a_read(tmp_path, monkeypatch):
    monkeypatch.setattr(event_wakeups, "APPLY_WAIT_S", 0.5)  # a read would wait this long
    listener = await _started(tmp_path)
    try:
        sender, pacer = HintSender(registry_dir(tmp_path)), ReadPacer(listener, "t1")
        read = _summary(1)  # what the follower's first read brought
        pacer.seen_rev = 1
        sender.send("t1", 2, push=lambda: event_wakeups.push_body(1, _summary(2, status="waiting"), [_event(2)]))
        await _pushed(listener, 2)
        page = pacer.pushed_page(read)
        assert page["events"] == [_event(2)]
        assert page["summary"]["rev"] == 2 and page["summary"]["status"] == "waiting"
        assert page["summary"]["prompt"] == "the prompt"  # from the read: pushes leave it out
        assert pacer.seen_rev == 2 and pacer.pushed_page(page["summary"]) is None  # taken once
        # the next push wakes the pacer and is taken without the apply wait a read has
        waiting = asyncio.ensure_future(pacer.before_next_read(rev=2))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        t = time.monotonic()
        sender.send("t1", 3, push=lambda: event_wakeups.push_body(2, _summary(3), [_event(3)]))
        await asyncio.wait_for(waiting, 10)
        assert time.monotonic() - t < 0.4
        assert [e["seq"] for e in pacer.pushed_page(page["summary"])["events"]] == [3]
        assert pacer.pushed_pages == 2 and pacer.early_reads == 0
    finally:
        listener.close()


async def test_a_missing_push_means_a_read_and_the_later_ones_still_count(tmp_path):
    listener = await _started(tmp_path)
    try:
        sender, pacer = HintSender(registry_dir(tmp_path)), ReadPacer(listener, "t1")
        pacer.seen_rev = 1
        # the push of revision 2 is lost; 3 continues 2
        sender.send("t1", 3, push=lambda: event_wakeups.push_body(2, _summary(3), [_event(3)]))
        await _pushed(listener, 3)
        assert pacer.pushed_page(_summary(1)) is None  # a gap: read from Restate
        t = time.monotonic()
        await pacer.before_next_read(rev=2)  # the read brought revision 2; the push of 3 is ready
        assert time.monotonic() - t < 0.5
        page = pacer.pushed_page(_summary(2))
        assert [e["seq"] for e in page["events"]] == [3] and pacer.seen_rev == 3
    finally:
        listener.close()


async def test_pushes_go_to_listeners_that_take_them_and_only_for_followed_tasks(tmp_path):
    listener = await _started(tmp_path)
    directory = registry_dir(tmp_path)
    old = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a listener from before pushes
    old.bind(("127.0.0.1", 0))
    old.settimeout(10)
    (directory / f"{os.getpid()}-{old.getsockname()[1]}").touch()  # registered without `push`
    try:
        sender = HintSender(directory)
        pacer = ReadPacer(listener, "t1")
        sender.send("t1", 2, push=lambda: event_wakeups.push_body(1, _summary(2), [_event(2)]))
        assert old.recvfrom(65536)[0] == b"t1 2"  # a plain hint, as before
        await _pushed(listener, 2)
        assert len(listener.pushes["t1"]) == 1
        # a task nobody here follows: woken, but its push is not kept
        sender.send("t2", 4, push=lambda: b'{"since":3,"summary":{"rev":4},"events":[]}')
        assert await listener.wait("t2", 3, timeout=10) and "t2" not in listener.pushes
        assert old.recvfrom(65536)[0] == b"t2 4"
        # too big for a datagram: a plain hint to everyone
        big = event_wakeups.push_body(2, _summary(3, result="x" * event_wakeups.MAX_DATAGRAM), [_event(3)])
        sender.send("t1", 3, push=lambda: big)
        assert old.recvfrom(65536)[0] == b"t1 3"
        await _pushed(listener, 3)
        assert [rev for _, rev, _ in listener.pushes["t1"]] == [2]
        # a malformed push is a plain hint, and so is a well-formed one without the listener's token
        port = listener._transport.get_extra_info("sockname")[1]
        token = listener._token
        old.sendto(b"t1 5 " + token + b' {"since": 9, "summary": {"rev": 5}, "events": []}', ("127.0.0.1", port))
        old.sendto(b"t1 6 " + token + b" {not json", ("127.0.0.1", port))
        forged = event_wakeups.push_body(2, _summary(7, editorRequest={"kind": "edit"}), [_event(3)])
        old.sendto(b"t1 7 " + b"0" * len(token) + b" " + forged, ("127.0.0.1", port))
        old.sendto(b"t1 7 " + forged, ("127.0.0.1", port))
        await _pushed(listener, 7)
        assert [rev for _, rev, _ in listener.pushes["t1"]] == [2]
        pacer.seen_rev = 1  # what a first read brought
        assert pacer.pushed_page(_summary(1))["summary"]["rev"] == 2
        listener.forget("t1")
        assert "t1" not in listener.pushes
    finally:
        old.close()
        listener.close()
