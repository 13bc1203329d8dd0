"""The early InitializeResult (dals.lsp.fast_start) is what pygls computes for the real server.

A new command, feature or option registered in `build_server()` changes pygls's reply; this test
then fails until fast_start says the same. Several client shapes, since pygls's reply depends on
the client's position encodings and willSave capabilities."""
from __future__ import annotations

import asyncio
import json

import pytest

from dals.lsp import fast_start
from dals.lsp.server import VERSION, build_server

VSCODE = {
    "processId": 31337, "clientInfo": {"name": "Visual Studio Code", "version": "1.99.3"}, "locale": "en",
    "rootPath": "/home/u/proj", "rootUri": "file:///home/u/proj", "trace": "off",
    "workspaceFolders": [{"uri": "file:///home/u/proj", "name": "proj"}],
    "initializationOptions": {"dals": {"model": "offline", "commands": {"allow": ["pytest"]}}},
    "capabilities": {
        "workspace": {"applyEdit": True, "workspaceEdit": {"documentChanges": True,
                                                           "resourceOperations": ["create", "rename", "delete"],
                                                           "failureHandling": "textOnlyTransactional",
                                                           "normalizesLineEndings": True},
                      "didChangeConfiguration": {"dynamicRegistration": True},
                      "didChangeWatchedFiles": {"dynamicRegistration": True, "relativePatternSupport": True},
                      "executeCommand": {"dynamicRegistration": True}, "workspaceFolders": True,
                      "configuration": True, "semanticTokens": {"refreshSupport": True},
                      "fileOperations": {"dynamicRegistration": True, "didCreate": True, "didRename": True,
                                         "didDelete": True, "willCreate": True, "willRename": True,
                                         "willDelete": True}},
        "textDocument": {
            "synchronization": {"dynamicRegistration": True, "willSave": True, "willSaveWaitUntil": True,
                                "didSave": True},
            "hover": {"dynamicRegistration": True, "contentFormat": ["markdown", "plaintext"]},
            "codeAction": {"dynamicRegistration": True, "isPreferredSupport": True, "disabledSupport": True,
                           "dataSupport": True, "resolveSupport": {"properties": ["edit"]},
                           "codeActionLiteralSupport": {"codeActionKind": {"valueSet": [
                               "", "quickfix", "refactor", "refactor.extract", "refactor.inline",
                               "refactor.rewrite", "source", "source.organizeImports"]}},
                           "honorsChangeAnnotations": True},
            "rename": {"dynamicRegistration": True, "prepareSupport": True},
            "publishDiagnostics": {"relatedInformation": True, "versionSupport": False,
                                   "tagSupport": {"valueSet": [1, 2]}}},
        "window": {"showMessage": {"messageActionItem": {"additionalPropertiesSupport": True}},
                   "showDocument": {"support": True}, "workDoneProgress": True},
        "general": {"staleRequestSupport": {"cancel": True, "retryOnContentModified": []},
                    "regularExpressions": {"engine": "ECMAScript", "version": "ES2020"},
                    "markdown": {"parser": "marked", "version": "1.1.0"},
                    "positionEncodings": ["utf-16"]},
        "notebookDocument": {"synchronization": {"dynamicRegistration": True, "executionSummarySupport": True}},
    },
}

NEOVIM = {
    "processId": 4711, "clientInfo": {"name": "Neovim", "version": "0.11.4"}, "rootPath": "/tmp/p",
    "rootUri": "file:///tmp/p", "trace": "off", "workDoneToken": "1",
    "workspaceFolders": [{"uri": "file:///tmp/p", "name": "/tmp/p"}],
    "capabilities": {
        "general": {"positionEncodings": ["utf-8", "utf-16", "utf-32"]},
        "textDocument": {"synchronization": {"didSave": True, "dynamicRegistration": False, "willSave": True,
                                             "willSaveWaitUntil": True},
                         "codeAction": {"dynamicRegistration": True, "isPreferredSupport": True,
                                        "dataSupport": True, "resolveSupport": {"properties": ["edit", "command"]},
                                        "codeActionLiteralSupport": {"codeActionKind": {"valueSet": [
                                            "", "quickfix", "refactor", "source"]}}}},
        "window": {"workDoneProgress": True, "showMessage": {"messageActionItem": {
            "additionalPropertiesSupport": True}}, "showDocument": {"support": True}},
        "workspace": {"applyEdit": True, "configuration": True, "workspaceFolders": True,
                      "didChangeWatchedFiles": {"dynamicRegistration": True, "relativePatternSupport": True},
                      "workspaceEdit": {"resourceOperations": ["rename", "create", "delete"]}},
    },
}

EMACS_EGLOT = {
    "processId": 99, "rootPath": "/src/x/", "rootUri": "file:///src/x", "initializationOptions": {},
    "clientInfo": {"name": "Eglot"},
    "capabilities": {"workspace": {"applyEdit": True, "executeCommand": {"dynamicRegistration": False},
                                   "workspaceEdit": {"documentChanges": True}, "configuration": True,
                                   "workspaceFolders": True},
                     "textDocument": {"synchronization": {"dynamicRegistration": False, "willSave": True,
                                                          "willSaveWaitUntil": True, "didSave": True}},
                     "window": {"showDocument": {"support": True}, "workDoneProgress": True},
                     "general": {"positionEncodings": ["utf-32", "utf-8", "utf-16"]},
                     "experimental": {}},
    "workspaceFolders": [{"uri": "file:///src/x", "name": "~/src/x/"}],
}

SHAPES = {
    "vscode": VSCODE,
    "neovim": NEOVIM,
    "emacs-eglot": EMACS_EGLOT,
    "minimal": {"processId": None, "rootUri": None, "capabilities": {}},
    "bare": {"capabilities": {}},
    "root-path-only": {"processId": 1, "rootPath": "/x", "capabilities": {"workspace": None, "general": None}},
    "unknown-encodings": {"capabilities": {"general": {"positionEncodings": ["utf-7", "bogus"]}}},
    "empty-encodings": {"capabilities": {"general": {"positionEncodings": []}}},
    "utf-8-later": {"capabilities": {"general": {"positionEncodings": ["x", "utf-8"]}}},
    "will-save-false": {"capabilities": {"textDocument": {"synchronization": {"willSave": False}}}},
    "will-save-wait-only": {"capabilities": {"textDocument": {"synchronization": {"willSaveWaitUntil": True}}}},
    "sync-null": {"capabilities": {"textDocument": {"synchronization": None}}},
}


class Capture:
    """pygls's writer: collects what it writes; `got` is set when a message arrives."""

    def __init__(self):
        self.out: list[bytes] = []
        self.got = asyncio.Event()

    def write(self, data: bytes) -> None:
        self.out.append(data)
        self.got.set()

    def close(self) -> None:
        pass


async def pygls_reply(body: bytes, encoding_seen: list | None = None) -> bytes:
    """What the real server writes for this `initialize`, parsed the way `start_io` parses it;
    `encoding_seen` gets the encoding of the position codec pygls's workspace then uses."""
    server = build_server()
    writer = Capture()
    server.protocol.set_writer(writer)
    server.protocol.handle_message(json.loads(body, object_hook=server.protocol.structure_message))
    await asyncio.wait_for(writer.got.wait(), 10)
    [reply] = writer.out
    if encoding_seen is not None:
        encoding_seen.append(server.workspace.position_codec.encoding)
    return reply


@pytest.mark.parametrize("shape, rid", [(shape, 1) for shape in sorted(SHAPES)] + [("vscode", "init-1")])
async def test_early_reply_is_what_pygls_sends(shape, rid):
    message = {"jsonrpc": "2.0", "id": rid, "method": "initialize", "params": SHAPES[shape]}
    body = json.dumps(message).encode()
    result = fast_start.initialize_result(json.loads(body))
    assert result is not None, f"fast_start cannot answer the {shape} client"
    early = fast_start.frame({"id": rid, "jsonrpc": "2.0", "result": result})
    codec_encoding: list = []
    theirs = await pygls_reply(body, codec_encoding)
    assert json.loads(early.split(b"\r\n\r\n", 1)[1]) == json.loads(theirs.split(b"\r\n\r\n", 1)[1])
    # the positions DALS sends and reads (lsp/positions.py) use this codec: same encoding as announced
    assert codec_encoding == [result["capabilities"]["positionEncoding"]]
    assert early == theirs  # same headers, same key order: byte for byte


def test_version_is_the_servers():
    assert fast_start.SERVER_INFO == {"name": "dals", "version": VERSION}
