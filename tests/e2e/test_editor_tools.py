"""The agent's editor tools over real LSP (pytest-lsp client, real `dals lsp`, real runtime):
`multi_edit` of an open file is one versioned applyEdit of the changed region, and `diagnostics`
asks the client (`dals/diagnostics`), waiting after an edit so language servers re-check; a
client that does not advertise it is never asked."""

from __future__ import annotations

import time

from lsprotocol import types

from tests.e2e.test_editor_edits import BUFFER, DISK, Buffer, plan
from tests.support.lsp_client import DalsClient

ERROR = {
    "range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 1}},
    "severity": 1,
    "source": "pyright",
    "code": "reportUndefinedVariable",
    "message": '"b" is not defined',
}


async def test_multi_edit_and_diagnostics_through_the_editor(runtime, tmp_path):
    f = tmp_path / "mod.py"
    f.write_text(DISK)
    client = DalsClient(runtime.env, tmp_path)
    asked: list[tuple[float, str | None]] = []

    @client.client.feature("dals/diagnostics")
    def diagnostics(params):
        uri = getattr(params, "uri", None)
        asked.append((time.monotonic(), uri))
        return {"items": [{"uri": f.as_uri(), "diagnostics": [ERROR]}]}

    await client.start(experimental={"dals": {"diagnostics": True}})
    try:
        buf = Buffer(client, f.as_uri(), BUFFER)
        applied: list[float] = []
        real = buf.client.client.protocol.fm.features[types.WORKSPACE_APPLY_EDIT]

        def timed(params):
            applied.append(time.monotonic())
            return real(params)

        buf.client.client.protocol.fm.features[types.WORKSPACE_APPLY_EDIT] = timed
        prompt = plan(
            ("read_file", {"path": "mod.py"}),
            (
                "multi_edit",
                {
                    "path": "mod.py",
                    "edits": [{"old": "b = 2", "new": "b = 3"}, {"old": "1", "new": "10", "replace_all": True}],
                },
            ),
            ("diagnostics", {"path": "mod.py"}),
            ("diagnostics", {}),
        )
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        events = await client.wait_finished(task_id)
    finally:
        await client.stop()
    assert events[-1]["status"] == "succeeded", events[-1]
    assert buf.text == "a = 10  # unsaved user note\nb = 3\n" and f.read_text() == DISK
    (params,) = buf.edits
    (edit,) = params.edit.document_changes[0].edits
    assert (edit.range.start.line, edit.range.start.character, edit.range.end.line) == (0, 5, 1)
    assert [uri for _, uri in asked] == [f.as_uri(), None]
    assert asked[0][0] - applied[0] >= 1.4  # the settle wait after the edit
    shown = [e for e in events if e["title"].startswith("diagnostics")]
    assert [e["title"] for e in shown] == ["diagnostics mod.py", "diagnostics (all files)"]
    assert shown[0]["detail"]["text"] == 'mod.py:2:1: error [pyright reportUndefinedVariable] "b" is not defined'


async def test_a_client_that_does_not_advertise_diagnostics_is_not_asked(runtime, tmp_path):
    f = tmp_path / "mod.py"
    f.write_text(DISK)
    client = DalsClient(runtime.env, tmp_path)
    asked = []
    client.client.feature("dals/diagnostics")(lambda params: asked.append(params) or {"items": []})
    await client.start()
    try:
        Buffer(client, f.as_uri(), DISK)
        task_id = (await client.command("dals.startTask", {"prompt": plan(("diagnostics", {"path": "mod.py"}))}))[
            "taskId"
        ]
        events = await client.wait_finished(task_id)
    finally:
        await client.stop()
    assert events[-1]["status"] == "succeeded" and asked == []
    (failed,) = [e for e in events if e["title"] == "diagnostics mod.py failed"]
    assert "does not share its diagnostics" in failed["detail"]["error"]


async def test_an_editor_with_no_file_open_is_still_asked(runtime, tmp_path):
    """Emacs's DALS connection manages no buffers: it publishes its session at `initialized`."""
    client = DalsClient(runtime.env, tmp_path)
    asked = []

    @client.client.feature("dals/diagnostics")
    def diagnostics(params):
        asked.append(getattr(params, "uri", None))
        return {"items": []}

    await client.start(experimental={"dals": {"diagnostics": True}})
    try:
        task_id = (await client.command("dals.startTask", {"prompt": plan(("diagnostics", {}))}))["taskId"]
        events = await client.wait_finished(task_id)
    finally:
        await client.stop()
    assert events[-1]["status"] == "succeeded" and asked == [None]
    assert [e["detail"].get("text") for e in events if e["title"] == "diagnostics (all files)"] == [
        "(no diagnostics for any file in the editor)"
    ]
