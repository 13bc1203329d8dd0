"""JSON POSTs over HTTP/1.1 keep-alive connections on plain asyncio streams, for the hot path to
Restate's ingress: every event a follower reads is one such call.

httpx costs `dals lsp` most of its CPU there while it follows 20 tasks: its connection pool checks
every pooled connection on each request, through anyio's socket attributes (py-spy: 24 % of the
process in `_assign_requests_to_connections`, 55 % in the whole request). This client keeps a
stack of idle connections and takes one. Plain `http://` or a unix socket only; TLS URLs stay
with httpx.
"""
from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

MAX_IDLE = 32
MAX_HEADER_LINES = 100


class HttpFailure(ConnectionError):
    """The exchange failed (refused, reset, closed early, malformed answer): no answer was read."""


class PlainHttp:
    def __init__(self, base_url: str, uds: str | None = None):
        """`uds`: connect to this unix socket instead of `base_url`'s host and port."""
        parts = urlsplit(base_url)
        self.uds = uds
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"PlainHttp needs an http:// URL, not {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self._host_header = parts.netloc.encode("ascii")
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        """(status, body) of one POST of a JSON `body`. A kept-alive connection that the server
        closed meanwhile is replaced once by a fresh one; the caller retries the rest."""
        head = (b"POST " + (self.prefix + path).encode("utf-8") + b" HTTP/1.1\r\nHost: " + self._host_header
                + b"\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: "
                + str(len(body)).encode("ascii") + b"\r\n\r\n")
        async with asyncio.timeout(timeout):
            while self._idle:
                conn = self._idle.pop()
                try:
                    return await self._exchange(conn, head + body)
                except HttpFailure:
                    continue  # closed while idle: try the next, then a fresh one
            try:
                if self.uds:
                    conn = await asyncio.open_unix_connection(self.uds)
                else:
                    conn = await asyncio.open_connection(self.host, self.port)
            except OSError as e:
                raise HttpFailure(f"cannot connect to {self.uds or f'{self.host}:{self.port}'}: {e}") from e
            return await self._exchange(conn, head + body)

    async def _exchange(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                        request: bytes) -> tuple[int, bytes]:
        reader, writer = conn
        keep = False
        try:
            writer.write(request)
            status, data, keep = await _read_response(reader)
            return status, data
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            raise HttpFailure(f"{type(e).__name__}: {e}") from e
        finally:  # also on cancellation (a timeout): a half-read connection is never reused
            if keep and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
            else:
                writer.close()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, whether the connection can be used again)."""
    line = await reader.readuntil(b"\r\n")
    version, status, *_ = line.decode("latin-1").split(" ", 2)
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x status line: {line[:80]!r}")
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        line = await reader.readuntil(b"\r\n")
        if line == b"\r\n":
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    else:
        raise ValueError("too many header lines")
    keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        return int(status), b"".join(chunks), keep
    if "content-length" in headers:
        return int(status), await reader.readexactly(int(headers["content-length"])), keep
    return int(status), await reader.read(), False  # the body ends with the connection
