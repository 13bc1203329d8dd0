"""RestateApi.call (every page of events a follower reads) against a real asyncio HTTP server on
127.0.0.1: retries while Restate starts, clear errors."""

from __future__ import annotations

import asyncio
import json

import pytest

from dals.client import restate_api
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


async def test_restate_api_call_retries_a_starting_restate_then_reports_errors():
    async with Server(
        ok(b"expecting a partition store", "503 Service Unavailable"),
        ok(json.dumps({"events": [1]}).encode()),
        ok(b"no such handler", "404 Not Found"),
    ) as srv:
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
