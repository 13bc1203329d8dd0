"""PlainHttp (the ingress calls' HTTP/1.1 client) and RestateApi.call on it, against a real
asyncio server on 127.0.0.1 that answers the ways an HTTP server may."""
from __future__ import annotations

import asyncio
import json

import pytest

from dals.client import restate_api
from dals.client.plain_http import HttpFailure, PlainHttp
from dals.client.restate_api import RestateApi, RestateUnavailable
from dals.runtime.layout import free_port


class Server:
    """Answers each request with the next scripted raw response (bytes, or a callable taking the
    body); records the requests and counts connections."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[tuple[bytes, bytes]] = []  # (request line, body)
        self.connections = 0
        self.server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                length = 0
                while (h := await reader.readline()) != b"\r\n":
                    if h.lower().startswith(b"content-length:"):
                        length = int(h.split(b":")[1])
                body = await reader.readexactly(length)
                self.requests.append((line.strip(), body))
                answer = self.answers.pop(0)
                if callable(answer):
                    answer = await answer(body)
                if answer is None:  # hang up without answering
                    return
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer or b"Content-Length" not in answer and b"chunked" not in answer:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def ok(body: bytes, status: str = "200 OK") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\ncontent-type: application/json\r\n\r\n".encode() + body


async def test_keep_alive_reuses_one_connection_and_sends_the_body():
    async with Server(ok(b'{"a": 1}'), ok(b"[2]"), ok(b"")) as srv:
        http = PlainHttp(srv.url + "/prefix/")
        assert await http.post("/Svc/k/h", b'{"x": "\xc3\xa9"}', 5) == (200, b'{"a": 1}')
        assert await http.post("/Svc/k/h", b"1", 5) == (200, b"[2]")
        assert await http.post("/Svc/k/h", b"2", 5) == (200, b"")
        await http.aclose()
    assert srv.connections == 1
    assert srv.requests[0] == (b"POST /prefix/Svc/k/h HTTP/1.1", b'{"x": "\xc3\xa9"}')


async def test_chunked_and_close_delimited_bodies():
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4\r\n[1, \r\n3;ext=1\r\n2, \r\n2\r\n3]\r\n0\r\nX-Trailer: t\r\n\r\n")
    until_close = b"HTTP/1.0 200 OK\r\n\r\n{\"end\": true}"
    async with Server(chunked, until_close, ok(b"{}")) as srv:
        http = PlainHttp(srv.url)
        assert await http.post("/a", b"", 5) == (200, b"[1, 2, 3]")
        assert await http.post("/a", b"", 5) == (200, b'{"end": true}')  # read to EOF, not kept
        assert await http.post("/a", b"", 5) == (200, b"{}")
        await http.aclose()
    assert srv.connections == 2


async def test_a_connection_closed_while_idle_is_replaced():
    async with Server(ok(b"1"), ok(b"2")) as srv:
        http = PlainHttp(srv.url)
        assert await http.post("/a", b"", 5) == (200, b"1")
        reader, writer = http._idle[0]
        writer.transport.abort()  # the idle keep-alive connection is gone, as if the server closed it
        assert await http.post("/a", b"", 5) == (200, b"2")
        await http.aclose()
    assert srv.connections == 2


async def test_refused_hung_and_hang_up_are_clear_failures():
    http = PlainHttp(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(HttpFailure, match="cannot connect"):
        await http.post("/a", b"", 5)

    async def hang(_body):
        await asyncio.sleep(30)

    async with Server(hang, None) as srv:
        http = PlainHttp(srv.url)
        with pytest.raises(TimeoutError):
            await http.post("/a", b"", 0.3)
        assert http._idle == []  # the timed-out connection is not reused
        with pytest.raises(HttpFailure):
            await http.post("/a", b"", 5)  # the server hangs up without an answer
        await http.aclose()


def test_only_http_urls():
    with pytest.raises(ValueError, match="http://"):
        PlainHttp("https://127.0.0.1:8080")


async def test_restate_api_call_retries_a_starting_restate_then_reports_errors():
    async with Server(ok(b"expecting a partition store", "503 Service Unavailable"),
                      ok(json.dumps({"events": [1]}).encode()),
                      ok(b"no such handler", "404 Not Found")) as srv:
        api = RestateApi(srv.url, srv.url)
        assert await api.call("AgentTask", "t1", "events", 0) == {"events": [1]}
        with pytest.raises(RestateUnavailable, match="AgentTask/events failed: 404 no such handler"):
            await api.call("AgentTask", "t1", "events", 0)
        await api.aclose()
    assert [r[0] for r in srv.requests] == [b"POST /AgentTask/t1/events HTTP/1.1"] * 3
    assert srv.requests[0][1] == b"0"


async def test_restate_api_call_names_the_url_when_unreachable(monkeypatch):
    monkeypatch.setattr(restate_api, "RETRY_DELAYS", (0, 0.01))
    api = RestateApi(f"http://127.0.0.1:{free_port()}", "http://127.0.0.1:1")
    with pytest.raises(RestateUnavailable, match=r"Restate unreachable at http://127\.0\.0\.1:\d+/S/k/h"):
        await api.call("S", "k", "h", None)
    await api.aclose()


@pytest.mark.parametrize("env, plain", [
    ({}, True),
    ({"HTTP_PROXY": "http://proxy.example:3128"}, False),
    ({"ALL_PROXY": "http://proxy.example:3128"}, False),
    ({"HTTP_PROXY": "http://proxy.example:3128", "NO_PROXY": "127.0.0.1,localhost"}, True),
])
async def test_ingress_calls_through_a_proxy_stay_with_httpx(monkeypatch, env, plain):
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    api = RestateApi("http://127.0.0.1:8080", "http://127.0.0.1:9070")
    assert (api._calls is not None) is plain
    await api.aclose()
    tls = RestateApi("https://127.0.0.1:8080", "http://127.0.0.1:9070")
    assert tls._calls is None
    await tls.aclose()
