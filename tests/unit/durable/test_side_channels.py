"""The worker chooses a task's side channels from the spec's `origin`, in one journaled step:
this state dir's (hints, the editor registry, notes in a step) or another's (all through Restate)."""

from __future__ import annotations

from dals.durable import side_channels
from dals.durable.task_spec import TaskSpec
from dals.local.event_wakeups import state_dir_id

BASE = {
    "taskId": "t",
    "prompt": "p",
    "title": "p",
    "workspace": "/w",
    "model": "offline",
    "createdAt": "2026-12-07T00:00:00.000Z",
}


class Journal:
    def __init__(self):
        self.steps: list[tuple[str, object]] = []

    async def __call__(self, name, fn):
        value = await fn()
        self.steps.append((name, value))
        return value


def test_the_state_dir_id_is_made_once_and_read_by_everyone(tmp_path):
    assert state_dir_id(tmp_path, create=False) is None
    made = state_dir_id(tmp_path)
    assert made and len(made) == 32 and state_dir_id(tmp_path) == made == state_dir_id(tmp_path, create=False)


async def test_the_same_state_dir_gives_the_local_channels(tmp_path, monkeypatch):
    monkeypatch.setenv("DALS_STATE_DIR", str(tmp_path))
    journal = Journal()
    chosen = await side_channels.choose(TaskSpec(**BASE, origin=state_dir_id(tmp_path)), journal)
    assert (chosen.wakeup, chosen.editorLookup, chosen.notesRead) == ("hint", "local", "step")
    assert journal.steps == [(side_channels.STEP, True)]


async def test_another_state_dir_falls_back_to_restate(tmp_path, monkeypatch):
    monkeypatch.setenv("DALS_STATE_DIR", str(tmp_path / "worker"))
    journal = Journal()
    chosen = await side_channels.choose(TaskSpec(**BASE, origin=state_dir_id(tmp_path / "front")), journal)
    assert (chosen.wakeup, chosen.editorLookup, chosen.notesRead) == ("feed", "restate", "auto")
    assert journal.steps == [(side_channels.STEP, False)]
    assert state_dir_id(tmp_path / "worker", create=False) is None  # the worker made none of its own


async def test_a_task_from_before_keeps_its_fields_and_journals_nothing_new():
    journal = Journal()
    old = TaskSpec(**BASE, wakeup="hint", editorLookup="local", notesRead="step")
    assert await side_channels.choose(old, journal) == old and journal.steps == []
