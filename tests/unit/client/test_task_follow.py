"""The followers' one loop (`TaskFollower.pages`) against a fake TaskService: events in seq order
with duplicates dropped and gaps read again, more pages read at once, a cursor moved on by
`seen`, an end only after the turn that follows `after`, and a feed task's long-poll between reads."""

from __future__ import annotations

from dals.client.task_follow import TaskFollower
from dals.client.tasks import TaskService


def ev(seq: int) -> dict:
    return {"seq": seq, "kind": "tool", "title": f"#{seq}"}


class FakeService:
    """Answers reads from a script of pages; a feed task (no `wakeup` in the summary)."""

    wakeup_of = staticmethod(TaskService.wakeup_of)

    def __init__(self, pages: list[dict]):
        self.pages = pages
        self.reads: list[int] = []
        self.polls = 0

    async def events_since(self, task_id, since):
        self.reads.append(since)
        return self.pages.pop(0)

    async def wait_change(self, task_id, version):
        self.polls += 1
        return version + 1


def summary(status: str, last: int) -> dict:
    return {"status": status, "lastSeq": last}


async def test_pages_in_order_without_duplicates_or_gaps_until_the_turn_ends():
    service = FakeService(
        [
            {"summary": summary("running", 4), "events": [ev(1), ev(2)]},  # more to read: read on at once
            {"summary": summary("running", 4), "events": [ev(2), ev(4)]},  # a duplicate and a gap: dropped
            {"summary": summary("running", 4), "events": [ev(3), ev(4)]},
            {"summary": summary("succeeded", 5), "events": [ev(5)]},
        ]
    )
    follower = TaskFollower(service, "t")
    got = [page async for page in follower.pages()]
    assert [[e["seq"] for e in p.events] for p in got] == [[1, 2], [], [3, 4], [5]]
    assert [p.ended for p in got] == [False, False, False, True]
    assert service.reads == [0, 2, 2, 4] and service.polls == 1  # a long-poll only once caught up


async def test_an_end_at_or_before_after_is_the_previous_turn_and_seen_moves_the_cursor():
    service = FakeService(
        [
            {"summary": summary("succeeded", 3), "events": []},  # the previous turn's end
            {"summary": summary("running", 5), "events": [ev(4), ev(5)]},
            {"summary": summary("succeeded", 6), "events": [ev(6)]},
        ]
    )
    follower = TaskFollower(service, "t", cursor=3, after=3)
    pages = follower.pages()
    first = await anext(pages)
    assert not first.ended and first.events == []
    follower.seen(4)  # the client got event 4 another way
    second = await anext(pages)
    assert [e["seq"] for e in second.events] == [5]
    third = await anext(pages)
    assert third.ended and [e["seq"] for e in third.events] == [6]
    assert [p async for p in pages] == []
