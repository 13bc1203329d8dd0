"""pygls_compat: the pygls version it was written for; pygls's documents split lines as LSP does
once `install` ran; requests pygls would leave unanswered get an error; and for each patch, the
upstream behaviour that makes it needed is still there (when that fails, pygls changed: adapt the
module)."""

from __future__ import annotations

import importlib

import pygls
import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.workspace import TextDocument, Workspace

from dals.lsp import pygls_compat
from dals.lsp.server import build_server

TEXT = "a\x0cb\u2028c\nd\re\r\nf"  # LSP lines: "a\x0cb\u2028c", "d", "e", "f"


def _change(line: int, character: int, text: str) -> types.TextDocumentContentChangePartial:
    at = types.Position(line=line, character=character)
    return types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text=text)


def test_an_unknown_pygls_version_is_refused(monkeypatch, tmp_path):
    assert pygls_compat.VERSION.startswith(pygls_compat.WRITTEN_FOR)
    (tmp_path / "pygls").mkdir()
    (tmp_path / "pygls-9.0.0.dist-info").mkdir()
    monkeypatch.setattr(pygls, "__file__", str(tmp_path / "pygls" / "__init__.py"))
    with pytest.raises(ImportError, match=r"pygls 2\.1\.x, found 9\.0\.0"):
        importlib.reload(pygls_compat)
    monkeypatch.undo()
    importlib.reload(pygls_compat)


def test_upstream_still_leaves_bad_requests_unanswered():
    """pygls raises (and so drops the request) where DalsProtocol answers with an error; it has the
    private `_send_response` and `_shutdown` DalsProtocol uses."""
    sent: list = []
    plain = LanguageServerProtocol(LanguageServer("t", "0"), None)
    with pytest.raises(JsonRpcException):
        plain.structure_message(
            {"jsonrpc": "2.0", "id": 7, "method": "textDocument/codeAction", "params": {"textDocument": 3}}
        )
    assert callable(plain._send_response) and plain._shutdown is False
    ours = pygls_compat.DalsProtocol(LanguageServer("t", "0"), None)
    ours._send_response = lambda rid, error=None, **_: sent.append((rid, error.message))
    ours.structure_message(
        {"jsonrpc": "2.0", "id": 7, "method": "textDocument/codeAction", "params": {"textDocument": 3}}
    )
    assert sent == [(7, "invalid request 'textDocument/codeAction': params do not match the LSP schema")]


def test_upstream_still_splits_at_form_feeds():
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
    server.protocol.handle_message(
        server.protocol.structure_message(
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}
        )
    )
    server.workspace.put_text_document(
        types.TextDocumentItem(uri="file:///t", language_id="text", version=1, text=TEXT)
    )
    assert isinstance(server.workspace.get_text_document("file:///t"), pygls_compat.LspLinesTextDocument)
