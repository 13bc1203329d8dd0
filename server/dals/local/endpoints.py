"""Where Restate is reached, and httpx clients for it.

An endpoint is an `http(s)://host:port` URL (an external Restate or a cluster) or `unix:/path.sock`:
the embedded runtime's ingress and admin sockets in the state dir, which only the user's account
can reach (docs/security.md). A socket path longer than the kernel's limit (107 bytes) is reached
through a short `/proc/self/fd/N/` alias of its directory, held open for the process's life.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx

UNIX = "unix:"
SUN_PATH_MAX = 107  # sockaddr_un.sun_path holds 108 bytes with the terminating NUL
_dir_fds: dict[str, int] = {}


def is_unix(url: str | None) -> bool:
    return url is not None and url.startswith(UNIX)


def unix_url(path: Path) -> str:
    return UNIX + str(path)


def socket_path(url: str) -> str:
    """The path to connect to for a `unix:` endpoint: the socket itself, or the same socket through
    an open descriptor of its directory when the full path is too long for `connect()`."""
    path = url[len(UNIX) :]
    if len(os.fsencode(path)) <= SUN_PATH_MAX:
        return path
    base = os.path.dirname(path)
    while not os.path.isdir(base) and os.path.dirname(base) != base:
        base = os.path.dirname(base)  # the socket's directory may not exist yet (Restate starting)
    fd = _dir_fds.get(base)
    if fd is None:
        fd = _dir_fds[base] = os.open(base, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    return f"/proc/self/fd/{fd}/{os.path.relpath(path, base)}"


def base_url(url: str) -> str:
    """What requests are addressed to: the URL itself, or a placeholder host for a socket."""
    return "http://localhost" if is_unix(url) else url.rstrip("/")


def async_client(url: str, **kw) -> httpx.AsyncClient:
    """An httpx client whose relative URLs go to the endpoint `url`. The CA bundle (0.05-0.35 s of
    CPU to load) only for https."""
    if is_unix(url):
        kw["transport"] = httpx.AsyncHTTPTransport(uds=socket_path(url), limits=kw.pop("limits", httpx.Limits()))
    return httpx.AsyncClient(base_url=base_url(url), verify=url.startswith("https:"), **kw)


def sync_client(url: str, **kw) -> httpx.Client:
    if is_unix(url):
        kw["transport"] = httpx.HTTPTransport(uds=socket_path(url))
    return httpx.Client(base_url=base_url(url), verify=url.startswith("https:"), **kw)


def get_status(url: str, path: str, timeout: float = 1.0) -> int | str:
    """The status code of `GET path` at the endpoint, or the error's name when it cannot be reached."""
    try:
        with sync_client(url, timeout=timeout) as http:
            return http.get(path).status_code
    except (httpx.HTTPError, OSError) as e:
        return type(e).__name__
