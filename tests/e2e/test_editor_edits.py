"""Edits through the editor: a file open in the client (with unsaved changes) is read from the
buffer and edited with a versioned workspace/applyEdit; a declined edit is a conflict the agent
re-reads, never a forced or lost write."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from lsprotocol import types

from tests.support.lsp_client import DalsClient

DISK = "a = 1\nb = 2\n"
BUFFER = "a = 1  # unsaved user note\nb = 2\n"


def plan(*steps: tuple[str, dict]) -> str:
    return "\n".join(["Through the editor"] + [f"/{tool} {json.dumps(args)}" for tool, args in steps])


class Buffer:
    """The test client's open document: applies workspace/applyEdit like an editor would."""

    def __init__(self, client: DalsClient, uri: str, text: str, encoding: str = "utf-16"):
        self.client, self.uri, self.text, self.version = client, uri, text, 1
        self.encoding = encoding
        self.edits: list[types.ApplyWorkspaceEditParams] = []
        self.decline_next = 0
        client.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
            )
        )

        @client.client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams):
            self.edits.append(params)
            if self.decline_next:
                self.decline_next -= 1
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="user said no")
            (doc_edit,) = params.edit.document_changes
            assert doc_edit.text_document.version == self.version
            for e in doc_edit.edits:
                self.text = _apply(self.text, e.range, e.new_text, self.encoding)
            self.version += 1
            client.client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.version),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=self.text)],
                )
            )
            return types.ApplyWorkspaceEditResult(applied=True)


CODECS = {"utf-8": ("utf-8", 1), "utf-16": ("utf-16-le", 2), "utf-32": ("utf-32-le", 4)}


def _apply(text: str, rng: types.Range, new: str, encoding: str) -> str:
    """Apply one edit as LSP defines it: lines end at \r\n, \n or \r; columns count code units."""
    lines = re.split(r"(?<=\r\n)|(?<=\n)|(?<=\r)(?!\n)", text)
    codec, width = CODECS[encoding]

    def offset(p):
        line = lines[p.line].rstrip("\r\n")
        column = len(line.encode(codec)[: p.character * width].decode(codec))
        return sum(len(x) for x in lines[: p.line]) + column

    return text[: offset(rng.start)] + new + text[offset(rng.end) :]


async def test_open_dirty_file_is_read_from_buffer_and_edited_with_versioned_apply_edit(runtime, tmp_path):
    # the task finds the open buffer in the state dir's editor registry (its worker shares the
    # state dir; a worker elsewhere asks EditorSessions: tests/integration/test_event_pushes.py)
    f = tmp_path / "mod.py"
    f.write_text(DISK)
    client = DalsClient(runtime.env, tmp_path)
    await client.start()
    try:
        buf = Buffer(client, f.as_uri(), BUFFER)
        prompt = plan(
            ("read_file", {"path": "mod.py"}), ("edit_file", {"path": "mod.py", "old": "b = 2", "new": "b = 3"})
        )
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        events = await client.wait_finished(task_id)
    finally:
        await client.stop()
    assert events[-1]["status"] == "succeeded"
    read = [e for e in events if e["title"].startswith("read_file")][0]
    assert read["detail"]["via"] == "editor"  # the agent saw the unsaved buffer
    assert len(buf.edits) == 1
    (doc_edit,) = buf.edits[0].edit.document_changes
    assert doc_edit.text_document.version == 1
    (edit,) = doc_edit.edits
    assert (edit.range.start.line, edit.range.start.character, edit.range.end.character) == (1, 0, 5)
    assert buf.text == "a = 1  # unsaved user note\nb = 3\n"  # the user's unsaved note kept
    assert f.read_text() == DISK  # the disk is the user's to save
    edit_events = [e for e in events if e["kind"] == "edit"]
    assert len(edit_events) == 1 and edit_events[0]["detail"]["via"] == "editor"
    lookups = [e for e in await _journal_names(runtime, task_id) if e.startswith("editor for ")]
    assert lookups == ["editor for mod.py"] * 2  # journaled steps reading the state dir
    registry = runtime.state_dir / "editors"
    assert not registry.exists() or list(registry.iterdir()) == []  # withdrawn at shutdown


async def test_a_file_read_from_the_buffer_is_not_reported_changed_by_the_disk_sweep(runtime, tmp_path):
    """VS Code's "4-review-approve" flake (issue 22): `dals lsp` re-hashes the files its tasks have
    read on disk every `SWEEP_S`. A file read from the editor's unsaved buffer has the buffer's
    hash, not the disk's: the sweep must not report it as changed outside the task, or the task's
    next edit of it is refused as stale (more often under forced replay, whose steps are slower).

    Made deterministic without waiting on the clock: the task also reads `zz.log`, which
    .gitignore hides from the watcher, so only the sweep sees the test change it; the sweep takes
    paths in sorted order, so once the note for `zz.log` is there, the sweep has looked at `mod.py`
    (read before) too. Then the held command ends and the task edits `mod.py`."""
    from dals.client.restate_api import RestateApi

    f = tmp_path / "mod.py"
    f.write_text(DISK)
    (tmp_path / ".gitignore").write_text("zz.log\n")
    (tmp_path / "zz.log").write_text("one\n")
    (tmp_path / "hold.sh").write_text("while [ ! -e go ]; do sleep 0.05; done\n")
    st = runtime.status()["restate"]
    api = RestateApi(st["ingress"], st["admin"])
    client = DalsClient(runtime.env, tmp_path)
    await client.start({"dals": {"commands": {"allow": ["sh hold.sh"]}}})
    try:
        buf = Buffer(client, f.as_uri(), BUFFER)
        prompt = plan(
            ("read_file", {"path": "mod.py"}),
            ("read_file", {"path": "zz.log"}),
            ("run_command", {"command": "sh hold.sh"}),
            ("edit_file", {"path": "mod.py", "old": "b = 2", "new": "b = 3"}),
        )
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        await client.wait_event(task_id, lambda evs: any(e["title"] == "read_file zz.log" for e in evs))
        (tmp_path / "zz.log").write_text("two\n")

        async def noted() -> list[dict]:
            while True:
                notes = (await api.call("TaskNotes", task_id, "since", 0))["notes"]
                if any(n["path"] == "zz.log" for n in notes):
                    return notes
                await asyncio.sleep(0.05)

        notes = await asyncio.wait_for(noted(), 30)
        (tmp_path / "go").write_text("")
        events = await client.wait_finished(task_id)
    finally:
        await client.stop()
        await api.aclose()
    assert [e["title"] for e in events if e["kind"] == "edit"] == ["edit_file mod.py"], [e["title"] for e in events]
    assert events[-1]["status"] == "succeeded"
    assert [n["path"] for n in notes] == ["zz.log"], notes  # the disk under the buffer is not news
    assert buf.text == "a = 1  # unsaved user note\nb = 3\n" and f.read_text() == DISK


async def test_declined_apply_edit_is_a_conflict_not_a_lost_edit(runtime, tmp_path):
    f = tmp_path / "mod.py"
    f.write_text(DISK)
    client = DalsClient(runtime.env, tmp_path)
    await client.start()
    try:
        buf = Buffer(client, f.as_uri(), DISK)
        buf.decline_next = 1
        prompt = plan(
            ("read_file", {"path": "mod.py"}),
            ("edit_file", {"path": "mod.py", "old": "b = 2", "new": "b = 3"}),
            ("read_file", {"path": "mod.py"}),
            ("edit_file", {"path": "mod.py", "old": "b = 2", "new": "b = 3"}),
        )
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        events = await client.wait_finished(task_id)
    finally:
        await client.stop()
    edits = [e for e in events if e["kind"] == "edit"]
    assert [e["title"].endswith("failed") for e in edits] == [True, False]
    assert "declined" in edits[0]["detail"]["error"] and "read it again" in edits[0]["detail"]["error"]
    assert len(buf.edits) == 2 and buf.text == "a = 1\nb = 3\n"
    assert f.read_text() == DISK  # never forced onto the disk behind the editor's back
    assert events[-1]["status"] == "succeeded"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
async def test_edits_after_non_ascii_text_in_a_crlf_buffer_land_exactly(runtime, tmp_path, encoding):
    """Issue 17: whatever encoding the client negotiates, edits after `é`, `ö` and `😀` on one line
    of a CRLF buffer without a final newline give exactly the text the disk path would write."""
    text = 's = "héllo wörld 😀 café"\r\nt = 1'
    f = tmp_path / "uni.py"
    f.write_bytes(text.encode())
    client = DalsClient(runtime.env, tmp_path)
    init = await client.start(position_encodings=[encoding])
    assert init.capabilities.position_encoding == encoding
    try:
        buf = Buffer(client, f.as_uri(), text, encoding)
        prompt = plan(
            ("read_file", {"path": "uni.py"}),
            ("edit_file", {"path": "uni.py", "old": "wörld", "new": "world"}),
            ("edit_file", {"path": "uni.py", "old": "café", "new": "coffee\n☕"}),
        )
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        events = await client.wait_finished(task_id)
    finally:
        await client.stop()
    assert events[-1]["status"] == "succeeded"
    assert [e["detail"].get("via") for e in events if e["kind"] == "edit"] == ["editor", "editor"]
    assert buf.text == 's = "héllo world 😀 coffee\r\n☕"\r\nt = 1'
    assert f.read_bytes() == text.encode()  # the disk is the user's to save


async def _journal_names(runtime, task_id: str) -> list[str]:
    """Names of the journal entries of the task's run (admin SQL)."""
    from dals.client.restate_api import RestateApi

    st = runtime.status()["restate"]
    api = RestateApi(st["ingress"], st["admin"])
    try:
        [inv] = await api.query(
            "SELECT id FROM sys_invocation WHERE target_service_name = 'AgentTask' "
            f"AND target_service_key = '{task_id}' AND target_handler_name = 'run'"
        )
        rows = await api.query(f"SELECT name FROM sys_journal WHERE id = '{inv['id']}'")
    finally:
        await api.aclose()
    return [r.get("name") or "" for r in rows]  # a null column is left out


async def test_undo_of_an_edit_made_in_the_buffer_goes_back_through_the_editor(runtime, tmp_path):
    # Guarantee 8 with an editor: the buffer before the task's edit was kept by `dals lsp`; undo
    # sets the buffer back with a guarded applyEdit (the user's undo works) and leaves the disk
    f = tmp_path / "mod.py"
    f.write_text(DISK)
    client = DalsClient(runtime.env, tmp_path)
    await client.start()
    try:
        buf = Buffer(client, f.as_uri(), BUFFER)
        prompt = plan(
            ("read_file", {"path": "mod.py"}), ("edit_file", {"path": "mod.py", "old": "b = 2", "new": "b = 3"})
        )
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        events = await client.wait_finished(task_id)
        assert buf.text == "a = 1  # unsaved user note\nb = 3\n"
        got = await client.command("dals.undoTask", {"taskId": task_id})
    finally:
        await client.stop()
    (edit,) = [e for e in events if e["kind"] == "edit"]
    assert edit["detail"]["via"] == "editor" and edit["detail"]["before"].startswith("sha256:")
    assert got["reverted"] == ["mod.py"] and got["skipped"] == [], got
    assert len(buf.edits) == 2  # the task's edit, then the undo's
    assert buf.text == BUFFER  # back to the user's unsaved buffer, exactly
    assert f.read_text() == DISK
