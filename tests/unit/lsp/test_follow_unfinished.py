"""After the runtime is ready, `dals lsp` follows the unfinished tasks of earlier sessions from their
last event, but leaves alone a task it already follows (one it started while the list was read):
following that one "from lastSeq" too would skip the events not sent yet."""

from __future__ import annotations

from dals.lsp.server import build_server


class FakeStream:
    def __init__(self, followed: set[str]):
        self.followers = {t: object() for t in followed}
        self.calls: list[tuple[str, int]] = []

    def follow(self, service, task_id: str, since: int = 0) -> None:
        self.calls.append((task_id, since))


class FakeService:
    async def list(self) -> list[dict]:
        return [
            {"taskId": "started-here", "status": "running", "lastSeq": 3},
            {"taskId": "from-before", "status": "running", "lastSeq": 5},
            {"taskId": "done", "status": "succeeded", "lastSeq": 9},
        ]


async def test_only_tasks_not_followed_yet_are_picked_up_from_their_last_event():
    server = build_server()
    stream = server.__dict__["stream"] = FakeStream({"started-here"})
    await server._follow_unfinished(FakeService())
    assert stream.calls == [("from-before", 5)]
