"""The early `initialize` reply (dals.lsp.fast_start): framing as pygls reads it, the fallbacks that
hand pygls every byte, the replayed stdin and the filter that drops pygls's second reply."""
from __future__ import annotations

import io
import json
import logging

import pytest

from dals.lsp import fast_start as fs

VSCODE_LIKE = {"processId": 4242, "clientInfo": {"name": "Visual Studio Code", "version": "1.99.0"},
               "locale": "en", "rootPath": "/ws", "rootUri": "file:///ws",
               "capabilities": {"general": {"positionEncodings": ["utf-16"]},
                                "textDocument": {"synchronization": {"willSave": True, "willSaveWaitUntil": True,
                                                                     "didSave": True}}},
               "trace": "off", "workspaceFolders": [{"uri": "file:///ws", "name": "ws"}]}


def frame(body: bytes, *, extra: bytes = b"") -> bytes:
    return f"Content-Length: {len(body)}\r\n".encode() + extra + b"\r\n" + body


def request(method: str = "initialize", params=None, rid=1) -> bytes:
    params = {"processId": None, "capabilities": {}} if params is None else params
    return json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode()


def messages(data: bytes) -> list[dict]:
    """Parse framed output (what the client would read)."""
    out, stream = [], io.BytesIO(data)
    while True:
        headers = {}
        while (line := stream.readline()).strip():
            name, _, value = line.decode().partition(":")
            headers[name.lower()] = value.strip()
        if not headers:
            return out
        out.append(json.loads(stream.read(int(headers["content-length"]))))


def run(data: bytes) -> tuple[fs.Handover, bytes, bytes]:
    """answer_initialize on `data`; (handover, what it wrote, what pygls reads afterwards)."""
    stdin, stdout = io.BytesIO(data), io.BytesIO()
    handover = fs.answer_initialize(stdin, stdout)
    written = stdout.getvalue()
    replay = b""
    while chunk := handover.stdin.read(7):  # small reads cross the head/rest boundary
        replay += chunk
    return handover, written, replay


# --- the framing reader ------------------------------------------------------------------------

def test_reads_one_message_and_leaves_the_rest():
    data = frame(request()) + frame(b'{"jsonrpc": "2.0", "method": "initialized", "params": {}}')
    stream = io.BytesIO(data)
    raw, msg = fs.read_first_message(stream)
    assert msg["method"] == "initialize" and raw == frame(request())
    assert stream.read() == frame(b'{"jsonrpc": "2.0", "method": "initialized", "params": {}}')


@pytest.mark.parametrize("extra_before, extra_after", [
    (b"", b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"),
    (b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n", b""),
    (b"X-Before: 1\r\n", b"X-After: 1\r\n"),
])
def test_other_headers_are_ignored_as_pygls_does(extra_before, extra_after):
    body = request()
    raw, msg = fs.read_first_message(io.BytesIO(extra_before + frame(body, extra=extra_after)))
    assert msg["method"] == "initialize"
    assert raw == extra_before + frame(body, extra=extra_after)


@pytest.mark.parametrize("data", [
    b"",  # EOF at once
    b"Content-Length: 12\r\n",  # EOF in the headers
    b"Content-Length: 40\r\n\r\n{\"jsonrpc\"",  # EOF in the body
    b"content-length: 2\r\n\r\n{}",  # pygls only knows "Content-Length: N\r\n"
    b"Content-Length: 2\n\n{}",  # nor bare \n
    b"X-Only: 1\r\n\r\n{}",  # no Content-Length before the blank line
    b"Content-Length: 5\r\n\r\nhello",  # not JSON
    b"Content-Length: 4\r\n\r\n\xff\xfe\xfa\xfb",  # not UTF-8
    b"\x00\x01garbage without newline",
    b"x" * 5000 + b"\r\n",  # a line far too long to be a header
    b"Header: 1\r\n" * 40,  # too many header lines
    f"Content-Length: {fs.MAX_BODY + 1}\r\n\r\n".encode(),  # too big: pygls reads it
])
def test_nothing_usable_gives_back_every_byte(data):
    stream = io.BytesIO(data)
    raw, msg = fs.read_first_message(stream)
    assert msg is None or not isinstance(msg, dict)
    assert raw + stream.read() == data


# --- fallbacks: no reply, every byte to pygls ------------------------------------------------

@pytest.mark.parametrize("data", [
    b"",
    b"Content-Length: 3",
    b"\x00\xffgarbage\r\n\r\n" + frame(request()),
    b"\r\n" + frame(request()),  # a blank line first: pygls skips it; the fast path leaves it to pygls
    frame(request("shutdown", None)),
    frame(request("textDocument/codeAction", {})),
    frame(b'{"jsonrpc": "2.0", "method": "initialized", "params": {}}'),
    frame(b'[{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}]'),  # batch
    frame(b'{"jsonrpc": "2.0", "id": 1, "method": "initialize"}'),  # no params
    frame(request(params={"processId": 1})),  # no capabilities: pygls answers InvalidParams
    frame(request(params={"capabilities": {}, "trace": "loud"})),
    frame(request(params={"capabilities": {}, "workspaceFolders": [{"uri": "file:///x"}]})),
    frame(request(params={"capabilities": {}, "clientInfo": {"version": "1"}})),
    frame(request(params={"capabilities": {"textDocument": {"hover": 5}}})),
    frame(request(params={"capabilities": {"general": {"positionEncodings": "utf-8"}}})),
    frame(request(params={"capabilities": {"textDocument": {"synchronization": {"willSave": 1}}}})),
    frame(request(rid=None)),
    frame(request(rid=True)),
    frame(request(rid=1.5)),
    frame(b'{"jsonrpc": "1.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}'),
])
def test_fallback_writes_nothing_and_replays_everything(data):
    tail = frame(request("shutdown", None, rid=2))
    handover, written, replay = run(data + tail)
    assert not handover.answered and written == b""
    assert replay == data + tail
    assert not isinstance(handover.stdout, fs.InitializeReplyFilter)


def test_disabled_by_environment(monkeypatch):
    assert fs.enabled()
    for off in ("0", "false", "off"):
        monkeypatch.setenv("DALS_LSP_FAST_START", off)
        assert not fs.enabled()
    monkeypatch.setenv("DALS_LSP_FAST_START", "1")
    assert fs.enabled()


# --- the early reply -------------------------------------------------------------------------

@pytest.mark.parametrize("rid", [1, 0, "init", 2**40])
def test_initialize_is_answered_at_once_and_replayed(rid):
    first = frame(request(params=VSCODE_LIKE, rid=rid))
    rest = frame(b'{"jsonrpc": "2.0", "method": "initialized", "params": {}}')
    handover, written, replay = run(first + rest)
    assert handover.answered
    [reply] = messages(written)
    assert reply["id"] == rid and type(reply["id"]) is type(rid) and reply["jsonrpc"] == "2.0"
    caps = reply["result"]["capabilities"]
    assert caps["executeCommandProvider"]["commands"] == fs.COMMANDS
    assert caps["textDocumentSync"]["willSave"] is False
    assert reply["result"]["serverInfo"] == {"name": "dals", "version": fs.SERVER_INFO["version"]}
    body = written.split(b"\r\n\r\n", 1)[1]
    assert written.startswith(b"Content-Length: %d\r\n" % len(body))
    assert replay == first + rest


@pytest.mark.parametrize("encodings, chosen", [
    (None, "utf-16"), ([], "utf-16"), (["utf-32", "utf-8"], "utf-32"), (["utf-8"], "utf-8"),
    (["bogus", "utf-8"], "utf-8"), (["bogus"], "utf-16"),
])
def test_position_encoding_follows_the_client(encodings, chosen):
    general = {} if encodings is None else {"positionEncodings": encodings}
    result = fs.initialize_result(json.loads(request(params={"capabilities": {"general": general}})))
    assert result["capabilities"]["positionEncoding"] == chosen


def test_will_save_only_when_the_client_states_it():
    sync = lambda s: fs.initialize_result(json.loads(request(params={"capabilities": {  # noqa: E731
        "textDocument": {"synchronization": s}}})))["capabilities"]["textDocumentSync"]
    assert "willSave" not in sync({}) and "willSaveWaitUntil" not in sync(None)
    assert sync({"willSave": False}) == {"openClose": True, "change": 2, "willSave": False, "save": False}
    assert sync({"willSaveWaitUntil": True})["willSaveWaitUntil"] is False


# --- the replayed stdin ------------------------------------------------------------------------

def test_replayed_stdin_lines_cross_the_boundary():
    r = fs.ReplayedStdin(b"one\r\ntw", io.BytesIO(b"o\r\nthree\r\n"))
    assert [r.readline(), r.readline(), r.readline(), r.readline()] == [b"one\r\n", b"two\r\n", b"three\r\n", b""]
    r = fs.ReplayedStdin(b"abcdef", io.BytesIO(b"gh\n"))
    assert r.readline(4) == b"abcd" and r.readline(3) == b"efg" and r.readline() == b"h\n"


def test_replayed_stdin_reads_cross_the_boundary():
    r = fs.ReplayedStdin(b"abc", io.BytesIO(b"defgh"))
    assert r.read(2) == b"ab" and r.read(3) == b"cde" and r.read() == b"fgh" and r.read(1) == b""
    r = fs.ReplayedStdin(b"", io.BytesIO(b"xy"))
    assert r.readline() == b"xy" and r.read(5) == b""


# --- dropping pygls's own reply ----------------------------------------------------------------

def pygls_frame(message: dict) -> bytes:
    return fs.frame(message)


def test_filter_drops_only_the_first_reply_with_that_id():
    out = io.BytesIO()
    sent = {"capabilities": {}, "serverInfo": fs.SERVER_INFO}
    f = fs.InitializeReplyFilter(out, 7, sent)
    passed = [
        pygls_frame({"jsonrpc": "2.0", "method": "window/logMessage", "params": {"type": 3, "message": "hi"}}),
        pygls_frame({"id": "7", "jsonrpc": "2.0", "result": None}),  # "7" is not 7
        pygls_frame({"jsonrpc": "2.0", "id": 7, "method": "workspace/configuration", "params": {}}),  # a request
    ]
    for data in passed:
        f.write(data)
    f.write(pygls_frame({"id": 7, "jsonrpc": "2.0", "result": sent}))  # pygls's reply: dropped
    again = pygls_frame({"id": 7, "jsonrpc": "2.0", "result": None})  # a later reply with that id: passed
    f.write(again)
    assert out.getvalue() == b"".join(passed) + again
    assert not f.pending


def test_filter_reports_a_reply_that_differs(caplog):
    out = io.BytesIO()
    f = fs.InitializeReplyFilter(out, 1, {"capabilities": {}})
    with caplog.at_level(logging.WARNING, logger="dals.lsp.fast_start"):
        f.write(pygls_frame({"error": {"code": -32602, "message": "bad"}, "jsonrpc": "2.0", "id": 1}))
    assert out.getvalue() == b""
    assert "differs" in caplog.text and "DALS_LSP_FAST_START=0" in caplog.text


def test_filter_passes_what_it_cannot_parse():
    out = io.BytesIO()
    f = fs.InitializeReplyFilter(out, 1, {})
    f.write(b"Content-Length: 3\r\n\r\n{x}")
    f.write(b"no framing at all")
    assert out.getvalue() == b"Content-Length: 3\r\n\r\n{x}no framing at all" and f.pending


def test_a_closed_stdout_does_not_lose_the_handover():
    class Closed(io.BytesIO):
        def write(self, data):
            raise BrokenPipeError(32, "Broken pipe")

    handover = fs.answer_initialize(io.BytesIO(frame(request())), Closed())
    assert handover.answered and handover.stdin.read() == frame(request())


# --- loading pygls meanwhile -------------------------------------------------------------------

def test_preload_imports_in_a_thread_and_leaves_errors_to_the_main_import():
    import sys

    sys.modules.pop("colorsys", None)
    thread = fs.preload("colorsys")
    thread.join(30)
    assert not thread.is_alive() and "colorsys" in sys.modules
    thread = fs.preload("dals.no_such_module")
    thread.join(30)
    assert not thread.is_alive()
    with pytest.raises(ImportError):
        __import__("dals.no_such_module")
