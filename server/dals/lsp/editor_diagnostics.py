"""The editor end of the agent's `diagnostics` tool: ask the editor what its language servers report.

A task's editor request `{"op": "diagnostics", "path": rel | None, "settleMs"}` becomes the
server→client request `dals/diagnostics` `{uri: string | null}`, which the thin clients answer
from their editor (VS Code `languages.getDiagnostics`, Neovim `vim.diagnostic.get`, Emacs
flymake) with `{items: [{uri, diagnostics: [LSP Diagnostic]}]}`. Only clients that advertise
`capabilities.experimental.dals.diagnostics` are asked. After an edit the task asks for a short
wait (`settleMs`) first, so that the language servers have re-checked the changed files.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from pygls.uris import to_fs_path

from ..workspace.confine import is_inside
from .protocol import EDITOR_DIAGNOSTICS

log = logging.getLogger("dals.lsp.editor")
ANSWER_WAIT_S = 5.0
MAX_SETTLE_S = 5.0
SEVERITY = {1: "error", 2: "warning", 3: "info", 4: "hint"}


def advertised(server) -> bool:
    caps = server.client_capabilities
    experimental = _plain(getattr(caps, "experimental", None) if caps else None)
    dals = experimental.get("dals") if isinstance(experimental, dict) else None
    return isinstance(dals, dict) and bool(dals.get("diagnostics"))


async def collect(server, request: dict[str, Any], workspace: Path) -> dict[str, Any]:
    """`{ok, files: [{path, diagnostics}], outside}` or `{ok: False, reason}`."""
    if not advertised(server):
        return {
            "ok": False,
            "reason": "the user's editor does not share its diagnostics with DALS (its DALS "
            "client does not advertise dals/diagnostics; update it); run the project's checker with "
            "run_command instead",
        }
    settle = min(max(float(request.get("settleMs") or 0) / 1000, 0.0), MAX_SETTLE_S)
    if settle:
        await asyncio.sleep(settle)
    path = request.get("path")
    uri = (workspace / path).as_uri() if path else None
    try:
        answer = await asyncio.wait_for(
            server.protocol.send_request_async(EDITOR_DIAGNOSTICS, {"uri": uri}), ANSWER_WAIT_S
        )
    except TimeoutError:
        return {"ok": False, "reason": f"the editor did not answer within {ANSWER_WAIT_S:.0f} s"}
    except Exception as e:  # noqa: BLE001 - an error answer from the client, told to the model
        return {"ok": False, "reason": f"the editor could not give its diagnostics: {e}"}
    return {"ok": True, **to_files(_plain(answer), workspace)}


def to_files(answer: Any, workspace: Path) -> dict[str, Any]:
    """The client's `{items}` as workspace-relative files with plain diagnostics, sorted; items
    outside the workspace are only counted."""
    items = answer.get("items") if isinstance(answer, dict) else None
    files: dict[str, list[dict[str, Any]]] = {}
    outside = 0
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("uri"), str):
            continue
        fs = to_fs_path(item["uri"])
        target = Path(fs).resolve() if fs else None
        if target is None or not is_inside(workspace, target):
            outside += 1
            continue
        rel = target.relative_to(workspace.resolve()).as_posix()
        got = [_diagnostic(d) for d in item.get("diagnostics") or [] if isinstance(d, dict)]
        files.setdefault(rel, []).extend(d for d in got if d)
    out: list[dict[str, Any]] = [
        {"path": p, "diagnostics": sorted(ds, key=lambda d: (d["line"], d["column"]))}
        for p, ds in sorted(files.items())
    ]
    return {"files": out, "outside": outside}


def _diagnostic(d: dict[str, Any]) -> dict[str, Any] | None:
    start = ((d.get("range") or {}).get("start") or {}) if isinstance(d.get("range"), dict) else {}
    message = d.get("message")
    if not isinstance(message, str):
        return None
    code, severity = d.get("code"), d.get("severity")
    return {
        "line": int(start.get("line", 0)) + 1,
        "column": int(start.get("character", 0)) + 1,
        "severity": SEVERITY.get(severity, "error") if isinstance(severity, int) else "error",
        "source": str(d.get("source") or ""),
        "code": "" if code is None else str(code),
        "message": message.strip(),
    }


def _plain(value: Any) -> Any:
    """pygls gives a custom request's result as namedtuples: back to dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
