"""`dals lsp` answers `initialize` before pygls is imported; pygls then takes over the stream.

Why: importing pygls and `lsprotocol.types` costs 0.6-0.9 s of CPU (attrs compiles ~570 classes),
and an editor waits for the InitializeResult before it shows the server as running. This module
uses the standard library only: it reads the first JSON-RPC message from stdin, and if it is an
`initialize` request it writes the reply pygls would write, at once. Then `run_stdio` starts pygls
on a stdin that replays every byte read here (so pygls handles `initialize` as usual: client
capabilities, workspace, `init_options`) and on a stdout that drops pygls's own reply to that one
request. Anything unexpected (another method first, a framing pygls would not accept, params this
module cannot vouch for, EOF) falls back to plain pygls with every byte handed over. pygls is
imported meanwhile in a thread (`preload`), so a client that spawns the server early and sends
`initialize` later does not wait for the imports after it.

The InitializeResult is kept here, in `_capabilities`: tests/unit/lsp/test_fast_start_matches_pygls.py
builds the real server and asserts pygls computes the same, so a new command or capability that
is not mirrored here fails CI. The parts that depend on the client (the negotiated position
encoding, `willSave`/`willSaveWaitUntil`) are computed from the request as pygls does.

`DALS_LSP_FAST_START=0` turns this off (pygls answers `initialize` itself, as before).
"""
from __future__ import annotations

import importlib
import json
import logging
import re
import threading
from typing import Any, BinaryIO, NamedTuple

from ..config import env_vars

log = logging.getLogger("dals.lsp.fast_start")

SERVER_INFO = {"name": "dals", "version": "0.1.0"}  # = server.VERSION; the equality test checks it
COMMANDS = ["dals.startTask", "dals.listTasks", "dals.showTask", "dals.cancelTask", "dals.resumeTask",
            "dals.answer", "dals.followUp", "dals.steer", "dals.transcript", "dals.forkTask", "dals.rewindTask",
            "dals.undoTask"]  # registration order in lsp/commands.py
CODE_ACTION_KINDS = ["quickfix", "refactor.rewrite"]
ENCODINGS = ("utf-8", "utf-16", "utf-32")  # what pygls can convert positions for

# What pygls accepts as a header (pygls/io_.py): exactly this line, other headers are ignored.
CONTENT_LENGTH = re.compile(rb"^Content-Length: (\d+)\r\n$")
CONTENT_TYPE = "application/vscode-jsonrpc; charset=utf-8"
MAX_HEADER_LINES = 32
MAX_LINE = 1024
MAX_BODY = 16 * 1024 * 1024  # a larger first message goes to pygls unread


def enabled() -> bool:
    return env_vars.flag("DALS_LSP_FAST_START")


# --- reading the first message ---------------------------------------------------------------

def read_first_message(stream: BinaryIO) -> tuple[bytes, Any]:
    """(every byte read, the decoded JSON body or None). Headers are read the way pygls reads them,
    so whatever is returned here, pygls parses the same bytes into the same message."""
    raw = bytearray()
    length = 0
    for _ in range(MAX_HEADER_LINES):
        line = stream.readline(MAX_LINE)
        raw += line
        if not line.endswith(b"\n"):  # EOF, or a line too long to be a header
            return bytes(raw), None
        if not length and (m := CONTENT_LENGTH.fullmatch(line)):
            length = int(m.group(1))
        elif not line.strip():
            if not length:  # pygls would go on reading headers: let it
                return bytes(raw), None
            break
    else:
        return bytes(raw), None
    if length > MAX_BODY:
        return bytes(raw), None
    body = stream.read(length)
    raw += body
    if len(body) < length:
        return bytes(raw), None
    try:
        return bytes(raw), json.loads(body)
    except Exception:  # noqa: BLE001 - not JSON (or too deep): pygls reports it, not us
        return bytes(raw), None


# --- the InitializeResult --------------------------------------------------------------------

def _optional(value: Any, *kinds: type) -> bool:
    return value is None or (isinstance(value, kinds) and not isinstance(value, bool))


def _params_ok(params: Any) -> bool:
    """Params pygls surely structures into InitializeParams. Stricter than cattrs on purpose: a
    doubt means the slow path, which is always right. Deep inside `capabilities` only the shape
    of `textDocument` is checked; the rest is trusted (and checked against pygls's reply later)."""
    if not isinstance(params, dict) or not isinstance(caps := params.get("capabilities"), dict):
        return False
    if not (_optional(params.get("processId"), int) and _optional(params.get("rootUri"), str)
            and _optional(params.get("rootPath"), str) and _optional(params.get("locale"), str)
            and _optional(params.get("workDoneToken"), int, str)
            and params.get("trace") in (None, "off", "messages", "verbose")):
        return False
    info = params.get("clientInfo")
    if info is not None and not (isinstance(info, dict) and isinstance(info.get("name"), str)
                                 and _optional(info.get("version"), str)):
        return False
    folders = params.get("workspaceFolders")
    if folders is not None and not (isinstance(folders, list) and all(
            isinstance(f, dict) and isinstance(f.get("uri"), str) and isinstance(f.get("name"), str)
            for f in folders)):
        return False
    for section in ("textDocument", "workspace", "window", "general", "notebookDocument"):
        if not _optional(caps.get(section), dict):
            return False
    return all(_optional(v, dict) for v in (caps.get("textDocument") or {}).values())


def _position_encoding(caps: dict) -> str | None:
    """The client's first encoding pygls supports, else UTF-16 (pygls's choose_position_encoding)."""
    encodings = (caps.get("general") or {}).get("positionEncodings")
    if encodings is None:
        return "utf-16"
    if not (isinstance(encodings, list) and all(isinstance(e, str) for e in encodings)):
        return None
    return next((e for e in encodings if e in ENCODINGS), "utf-16")


def _will_save(caps: dict, name: str) -> tuple[bool, bool]:
    """(understood, include): pygls sends `false` when the client states the capability (DALS
    handles no willSave), and omits it when the client does not."""
    sync = (caps.get("textDocument") or {}).get("synchronization") or {}
    value = sync.get(name)
    return value is None or isinstance(value, bool), value is not None


def _capabilities(caps: dict) -> dict | None:
    """ServerCapabilities as pygls serialises them for this server, or None if unsure."""
    encoding = _position_encoding(caps)
    (ok_ws, has_ws), (ok_wswu, has_wswu) = _will_save(caps, "willSave"), _will_save(caps, "willSaveWaitUntil")
    if encoding is None or not (ok_ws and ok_wswu):
        return None
    sync: dict[str, Any] = {"openClose": True, "change": 2}  # Incremental: pygls's default
    if has_ws:
        sync["willSave"] = False
    if has_wswu:
        sync["willSaveWaitUntil"] = False
    sync["save"] = False
    return {
        "positionEncoding": encoding,
        "textDocumentSync": sync,
        "codeActionProvider": {"codeActionKinds": list(CODE_ACTION_KINDS), "resolveProvider": True},
        "executeCommandProvider": {"commands": list(COMMANDS)},
        "workspace": {"workspaceFolders": {"supported": True, "changeNotifications": True},
                      "fileOperations": {}},
    }


def initialize_result(message: Any) -> dict | None:
    """The InitializeResult pygls would send for this `initialize` request, or None when the
    message is not one (or not one this module can answer for sure)."""
    if not (isinstance(message, dict) and message.get("jsonrpc") == "2.0"
            and message.get("method") == "initialize" and "id" in message
            and isinstance(message["id"], (int, str)) and not isinstance(message["id"], bool)
            and _params_ok(message.get("params"))):
        return None
    caps = _capabilities(message["params"]["capabilities"])
    return None if caps is None else {"capabilities": caps, "serverInfo": dict(SERVER_INFO)}


def frame(message: dict) -> bytes:
    """One message as pygls writes it (same key order, same headers)."""
    body = json.dumps(message).encode("utf-8")
    return f"Content-Length: {len(body)}\r\nContent-Type: {CONTENT_TYPE}\r\n\r\n".encode() + body


# --- handing the stream to pygls --------------------------------------------------------------

class ReplayedStdin:
    """stdin for pygls: the bytes already read here first, then the real stream. pygls only calls
    `readline()` and `read(n)`, one at a time, from its reader thread."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head = head
        self._rest = rest

    def readline(self, limit: int = -1) -> bytes:
        if not self._head:
            return self._rest.readline(limit)
        end = self._head.find(b"\n") + 1 or len(self._head)
        if limit >= 0:
            end = min(end, limit)
        line, self._head = self._head[:end], self._head[end:]
        if line.endswith(b"\n") or self._head or 0 <= limit <= len(line):
            return line
        return line + self._rest.readline(-1 if limit < 0 else limit - len(line))  # the line goes on

    def read(self, n: int = -1) -> bytes:
        if not self._head:
            return self._rest.read(n)
        if n is None or n < 0:
            data, self._head = self._head, b""
            return data + self._rest.read()
        data, self._head = self._head[:n], self._head[n:]
        return data + (self._rest.read(n - len(data)) if len(data) < n else b"")


class InitializeReplyFilter:
    """stdout for pygls: drops pygls's own reply to the `initialize` already answered, the first
    response with that id, and passes everything else. pygls writes one whole message per call."""

    def __init__(self, out: BinaryIO, request_id: int | str, sent: dict):
        self._out = out
        self._id = request_id
        self._sent = sent
        self.pending = True

    def write(self, data: bytes) -> int:
        if self.pending and self._is_the_reply(data):
            return len(data)
        self._out.write(data)
        self._out.flush()
        return len(data)

    def _is_the_reply(self, data: bytes) -> bool:
        _, sep, body = bytes(data).partition(b"\r\n\r\n")
        try:
            msg = json.loads(body) if sep else None
        except Exception:  # noqa: BLE001 - not a whole message: not the one we look for
            return False
        if not (isinstance(msg, dict) and "method" not in msg and msg.get("id") == self._id
                and type(msg.get("id")) is type(self._id)):
            return False
        self.pending = False
        if msg.get("result") != self._sent:  # pygls disagrees: the client got the wrong reply
            log.warning("the early InitializeResult differs from pygls's reply %s; set "
                        "DALS_LSP_FAST_START=0 and report it", json.dumps(msg)[:2000])
        else:
            log.info("initialize %r was answered before pygls loaded; pygls's own reply dropped", self._id)
        return True

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._out.close()


class Handover(NamedTuple):
    """What pygls's `start_io` gets instead of sys.stdin.buffer / sys.stdout.buffer."""

    stdin: ReplayedStdin
    stdout: BinaryIO | InitializeReplyFilter
    answered: bool


def preload(module: str) -> threading.Thread:
    """Import `module` (pygls and all) in a thread while the main thread waits for the client's
    first message: a client may spawn the server well before it sends `initialize`, and that wait
    was import time before this module existed. The main thread's own import of `module` waits for
    this one (the import lock) and raises its error, if any."""
    def load() -> None:
        try:
            importlib.import_module(module)
        except BaseException:  # noqa: BLE001 - the main thread's import reports it
            pass
    thread = threading.Thread(target=load, name=f"preload {module}", daemon=True)
    thread.start()
    return thread


def answer_initialize(stdin: BinaryIO, stdout: BinaryIO) -> Handover:
    """Read the first message; answer it if it is `initialize`. Never loses a byte."""
    raw, message = read_first_message(stdin)
    result = initialize_result(message)
    if result is None:
        return Handover(ReplayedStdin(raw, stdin), stdout, answered=False)
    try:
        stdout.write(frame({"id": message["id"], "jsonrpc": "2.0", "result": result}))
        stdout.flush()
    except OSError as e:  # the client is gone; pygls finds out on its first write, as before
        log.warning("could not write the InitializeResult: %s", e)
    return Handover(ReplayedStdin(raw, stdin), InitializeReplyFilter(stdout, message["id"], result),
                    answered=True)
