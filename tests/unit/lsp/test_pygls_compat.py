"""pygls's documents split lines as LSP does once `pygls_compat.install` ran; and the upstream
behaviour that makes it needed is still there (when this fails, pygls changed: adapt the module)."""
from __future__ import annotations

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

from dals.lsp import pygls_compat
from dals.lsp.server import build_server

TEXT = "a\x0cb\u2028c\nd\re\r\nf"  # LSP lines: "a\x0cb\u2028c", "d", "e", "f"


def _change(line: int, character: int, text: str) -> types.TextDocumentContentChangePartial:
    at = types.Position(line=line, character=character)
    return types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text=text)


def test_upstream_still_splits_at_form_feeds():
    assert pygls_compat.supported(), "pygls is not 2.1.x: check pygls_compat against the new version"
    assert len(TextDocument("file:///t", TEXT).lines) == 6  # str.splitlines: the reason for the module


def test_installed_workspace_applies_changes_on_lsp_lines():
    ws = Workspace("file:///", position_encoding="utf-16")
    assert pygls_compat.install(ws)
    ws.put_text_document(types.TextDocumentItem(uri="file:///t", language_id="text", version=1, text=TEXT))
    doc = ws.get_text_document("file:///t")
    assert doc.lines == ("a\x0cb\u2028c\n", "d\r", "e\r\n", "f")
    doc.apply_change(_change(1, 1, "!"))
    doc.apply_change(_change(3, 1, "?"))
    assert doc.source == "a\x0cb\u2028c\nd!\re\r\nf?"


def test_the_server_installs_it_at_initialize():
    server = build_server()
    server.protocol.handle_message(server.protocol.structure_message(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}))
    server.workspace.put_text_document(types.TextDocumentItem(uri="file:///t", language_id="text", version=1,
                                                              text=TEXT))
    assert isinstance(server.workspace.get_text_document("file:///t"), pygls_compat.LspLinesTextDocument)
