"""The one place DALS reaches into pygls's internals. Written for pygls 2.1; importing this module
with another version fails at once (ImportError naming both versions). tests/unit/lsp/test_pygls_compat.py
fails when pygls's behaviour relied on here changes (then drop or adapt what it names).

1. Requests that get no answer from pygls (`DalsProtocol`, on `_send_response` and `_shutdown`):
   pygls drops a request whose params do not deserialize without answering it, and ignores
   requests after `shutdown`; a client would wait forever. They get a JSON-RPC error instead.
2. Documents split into lines as LSP does (`install`, on `Workspace._create_text_document`):
   pygls 2.1's `TextDocument.lines` is `str.splitlines()`, which also ends a line at \\x0b, \\x0c,
\\x1c-\\x1e, U+0085, U+2028 and U+2029. LSP ends lines at \\r\\n, \\n and \\r only, and so do
editors: an incremental didChange on a document holding a form feed (common in C, Python and
Emacs Lisp sources) was applied on the wrong line, and DALS's copy of the buffer no longer matched
the editor's. `install` makes the workspace's documents split lines as LSP does; everything else
(the position codec, the change logic) stays pygls's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pygls
from pygls.exceptions import JsonRpcException, JsonRpcInvalidRequest
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import JsonRPCNotification
from pygls.workspace import TextDocument, Workspace

from .positions import lsp_lines

WRITTEN_FOR = "2.1."


def installed_version() -> str:
    """pygls's version, from its dist-info next to the package (importlib.metadata costs `dals lsp`
    ~50 ms of start-up for the same answer; it is the fallback)."""
    site = Path(pygls.__file__).resolve().parent.parent
    found = sorted(site.glob("pygls-*.dist-info"))
    if len(found) == 1:
        return found[0].name[len("pygls-") : -len(".dist-info")]
    import importlib.metadata

    return importlib.metadata.version("pygls")


VERSION = installed_version()
if not VERSION.startswith(WRITTEN_FOR):
    raise ImportError(
        f"dals needs pygls {WRITTEN_FOR}x, found {VERSION}: install pygls=={WRITTEN_FOR}1 "
        "or adapt dals/lsp/pygls_compat.py (its tests say what changed)"
    )


class DalsProtocol(LanguageServerProtocol):
    """pygls drops a request whose params don't deserialize without answering it; a client would
    wait forever. Answer it with the error instead, and carry on."""

    def structure_message(self, data: Any) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "id" in data and "method" in data:
                error = exc.to_response_error()
                error.message = f"invalid request {data.get('method')!r}: params do not match the LSP schema"
                self._send_response(data["id"], error=error)
            return JsonRPCNotification(method="$/dals/dropped", jsonrpc="2.0", params=None)

    def handle_message(self, message: Any) -> Any:
        """After `shutdown`, requests get InvalidRequest (as LSP says) instead of silence."""
        if self._shutdown and getattr(message, "method", "exit") != "exit" and getattr(message, "id", None) is not None:
            error = JsonRpcInvalidRequest("the server is shutting down; only 'exit' is accepted")
            self._send_response(message.id, error=error.to_response_error())
            return None
        return super().handle_message(message)


class LspLinesTextDocument(TextDocument):
    """A pygls document whose lines end where LSP's do."""

    @property
    def lines(self):
        lines = lsp_lines(self.source)
        if lines[-1] == "":  # pygls has no empty last line after a final line break
            lines.pop()
        return tuple(lines)


def install(workspace: Workspace) -> bool:
    """Make the documents `workspace` creates from now on split lines as LSP does."""
    create = workspace._create_text_document

    def create_lsp_lines(*args, **kwargs) -> TextDocument:
        document = create(*args, **kwargs)
        document.__class__ = LspLinesTextDocument
        return document

    workspace._create_text_document = create_lsp_lines  # type: ignore[method-assign]  # the patch (see module)
    return True
