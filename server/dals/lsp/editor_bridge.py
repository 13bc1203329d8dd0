"""The editor end of routed reads and edits (see dals.agent.editor_route).

Keeps this session's entry in `EditorSessions` and in the state dir fresh (open files per workspace, a heartbeat), and
answers the tasks' editor requests: a read returns the buffer; an edit becomes a versioned
`workspace/applyEdit` of exactly the changed range, checked against the hash the task last saw;
a diagnostics request is asked of the editor (`editor_diagnostics`).
The range is in the position encoding negotiated at `initialize` (see `positions`), and the text
inserted uses the buffer's line breaks, as the disk path does (`dals.workspace.line_endings`).
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.uris import to_fs_path

from ..agent.deps import now_iso
from ..config.settings import state_dir
from ..local import editor_presence
from ..workspace.checkpoints import store_of
from ..workspace.confine import is_inside, workspace_key
from ..workspace.errors import WorkspaceError
from ..workspace.files import content_hash, edit_already_applied
from ..workspace.line_endings import adapt
from ..workspace.text_edits import apply_edits, changed_span, edits_of, parse_edits
from . import editor_diagnostics, positions

log = logging.getLogger("dals.lsp.editor")
HEARTBEAT_S = 10.0
SYNC_WAIT_S = 3.0


def _sha(text: str) -> str:
    return content_hash(text.encode("utf-8"))


class EditorBridge:
    def __init__(self, server):
        self.server = server
        self.session_id = uuid.uuid4().hex
        self.handled: set[str] = set()
        self._heartbeat: asyncio.Task | None = None
        self._sync_soon: asyncio.Task | None = None
        self.registry = editor_presence.registry_dir(state_dir())

    # --- which files are open ---------------------------------------------------
    def roots(self) -> list[Path]:
        ws = self.server.workspace
        paths = [to_fs_path(f.uri) for f in ws.folders.values()] if ws else []
        folders = [Path(p).resolve() for p in paths if p]  # (a folder that is no file path: none)
        if not folders and ws and ws.root_path:
            folders = [Path(ws.root_path).resolve()]
        return folders

    def open_files(self, root: Path) -> list[str]:
        out = []
        for uri in list(self.server.workspace.text_documents):
            path = Path(to_fs_path(uri) or "")
            if path.is_absolute() and is_inside(root, path.resolve()):
                out.append(path.resolve().relative_to(root).as_posix())
        return out

    def changed(self) -> None:
        """didOpen/didClose: publish soon (coalescing bursts)."""
        if self._sync_soon is None or self._sync_soon.done():
            self._sync_soon = asyncio.get_running_loop().create_task(self._sync_later())
        if self._heartbeat is None:
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat())

    async def _sync_later(self) -> None:
        await asyncio.sleep(0.05)
        await self.sync()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            await self.sync()

    async def sync(self) -> None:
        """Publish the open files: in the state dir (for workers on this machine) and in Restate's
        `EditorSessions` (for workers anywhere); see `dals.local.editor_presence`."""
        now = time.time()
        opened = {workspace_key(root): self.open_files(root) for root in self.roots()}
        try:
            editor_presence.publish(self.registry, self.session_id, opened, now)
        except OSError as e:
            log.warning("could not publish open files in %s: %s", self.registry, e)
        try:
            service = await self.server.task_service()
            for key, files in opened.items():
                await service.api.send(
                    "EditorSessions", key, "update", {"sessionId": self.session_id, "open": files, "seenAt": now}
                )
        except Exception as e:  # noqa: BLE001 - the disk path still works without the registry
            log.warning("could not publish open files: %s", e)

    def stop(self) -> None:
        """On shutdown: no network here (`exit` follows at once). Our file in the state dir goes
        now; our `EditorSessions` entry expires by itself (`FRESH_S`), and tasks then use the disk."""
        for t in (self._heartbeat, self._sync_soon):
            if t:
                t.cancel()
        editor_presence.withdraw(self.registry, self.session_id)

    # --- requests from tasks ----------------------------------------------------
    def offer(self, request: dict[str, Any] | None, workspace: Path, task_id: str) -> None:
        """A followed task's summary shows an editor request: answer it if it is ours."""
        if not request or request.get("sessionId") != self.session_id or request["requestId"] in self.handled:
            return
        self.handled.add(request["requestId"])
        asyncio.get_running_loop().create_task(self._answer(request, workspace, task_id))

    async def _answer(self, request: dict[str, Any], workspace: Path, task_id: str) -> None:
        try:
            result = await self.handle(request, workspace)
        except Exception as e:  # noqa: BLE001 - an answer is always sent
            log.exception("editor request failed")
            result = {"applied": False, "ok": False, "reason": f"editor error: {e}"}
        result["at"] = now_iso()
        try:
            service = await self.server.task_service()
            await service.answer_editor(task_id, request["requestId"], result)
        except Exception as e:  # noqa: BLE001 - the task times out and uses the disk
            log.warning("could not answer editor request: %s", e)

    async def handle(self, request: dict[str, Any], workspace: Path) -> dict[str, Any]:
        if request["op"] == "diagnostics":
            return await editor_diagnostics.collect(self.server, request, workspace)
        doc = self.server.workspace.text_documents.get(unquote((workspace / request["path"]).as_uri()))
        if doc is None:
            return {"ok": False, "applied": False, "reason": "closed"}
        text = doc.source
        if request["op"] == "read":
            return {"ok": True, "text": text, "sha": _sha(text), "version": doc.version}
        tool, expected, sha, path = request["tool"], request.get("expected"), _sha(text), request["path"]
        stale = {"applied": False, "reason": f"'{path}' changed since read (open in the editor); read it again"}
        if tool == "write_file":
            result = adapt(text, request["content"])
            if text == result:  # a re-run of an edit the editor already applied
                return {"applied": True, "sha": sha, "diff": ""}
            if sha != expected:
                return stale
            start, end, new_text = changed_span(text, result)
        else:
            edits = edits_of(request)
            if sha != expected:
                if sha == request.get("target") or (
                    expected
                    and len(edits) == 1
                    and not edits[0].get("replace_all")
                    and edit_already_applied(text, adapt(text, edits[0]["old"]), adapt(text, edits[0]["new"]), expected)
                ):
                    return {"applied": True, "sha": sha, "diff": ""}
                return stale
            try:
                parsed = parse_edits(edits)
                result = apply_edits(text, parsed, path)  # in the buffer's line breaks
            except WorkspaceError as e:
                return {"applied": False, "reason": str(e)}
            if len(parsed) == 1 and not parsed[0].replace_all:  # the one occurrence of `old`
                old, new = adapt(text, parsed[0].old), adapt(text, parsed[0].new)
                start = text.find(old)
                end, new_text = start + len(old), new
            else:  # one text edit over the whole changed region
                start, end, new_text = changed_span(text, result)
        # the buffer before the edit, kept for undo (the checkpoint store of this state dir)
        before = await asyncio.to_thread(store_of(state_dir()).put, text.encode("utf-8"))
        edit = self._workspace_edit(doc.uri, doc.version, text, start, end, new_text, request)
        answer = await self.server.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=f"DALS: {tool} {request['path']}")
        )
        if not answer.applied:
            return {
                "applied": False,
                "reason": f"the editor declined the edit of {request['path']} "
                f"({answer.failure_reason or 'no reason given'}); read it again",
            }
        await self._synced(doc.uri, text)
        diff = "".join(
            difflib.unified_diff(
                text.splitlines(True), result.splitlines(True), f"a/{request['path']}", f"b/{request['path']}"
            )
        )
        return {"applied": True, "sha": _sha(result), "diff": diff, "before": before}

    async def _synced(self, uri: str, before: str) -> None:
        """Wait (briefly) for the editor's didChange of an applied edit: the task's next edit of
        this buffer is checked against our copy, and editors send it a little later (Neovim
        debounces it by 150 ms). No didChange in time: the next edit may find the copy stale and
        the task reads the buffer again; nothing is lost."""
        deadline = time.monotonic() + SYNC_WAIT_S
        while time.monotonic() < deadline:
            doc = self.server.workspace.text_documents.get(uri)
            if doc is None or doc.source != before:
                return
            await asyncio.sleep(0.02)

    def _workspace_edit(self, uri, version, text, start, end, new_text, request) -> types.WorkspaceEdit:
        start, end, new_text = positions.edit_span(text, start, end, new_text)
        rng = positions.range_of(self.server.workspace.position_codec, text, start, end)
        caps = self.server.client_capabilities
        we = caps.workspace.workspace_edit if caps and caps.workspace else None
        annotate = bool(request.get("review") and we and we.change_annotation_support)
        edit: types.TextEdit | types.AnnotatedTextEdit = (
            types.AnnotatedTextEdit(range=rng, new_text=new_text, annotation_id="dals-review")
            if annotate
            else types.TextEdit(range=rng, new_text=new_text)
        )
        doc_edit = types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version), edits=[edit]
        )
        annotations = (
            {
                "dals-review": types.ChangeAnnotation(
                    label="DALS (review)",
                    needs_confirmation=False,  # already approved in DALS; VS Code would
                    # otherwise open its refactor preview with the edit unchecked
                    description=f"{request['tool']} {request['path']}, approved in DALS review",
                )
            }
            if annotate
            else None
        )
        return types.WorkspaceEdit(document_changes=[doc_edit], change_annotations=annotations)
