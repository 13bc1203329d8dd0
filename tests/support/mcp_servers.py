"""The MCP servers the tests use: the pinned npm servers `make setup` installs into
`.mcp-servers/`, and `mcp_counter_server.py` (stdio, or streamable HTTP in a process of its own)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.support.runtime import wait_for

ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = ROOT / ".mcp-servers" / "node_modules" / ".bin"
COUNTER = Path(__file__).with_name("mcp_counter_server.py")


def npm_server(name: str) -> str:
    path = NODE_BIN / name
    assert path.exists(), f"{path} is missing: `make setup` installs the pinned MCP test servers"
    return str(path)


def counter(count_file: Path, **env: str) -> dict:
    """A stdio counter server's configuration, recording into `count_file`."""
    return {"command": sys.executable, "args": [str(COUNTER)], "env": {"COUNTER_FILE": str(count_file), **env}}


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def plan(*steps: tuple[str, dict], title: str = "Use the MCP tools") -> str:
    import json

    return "\n".join([title] + [f"/{tool} {json.dumps(args)}" for tool, args in steps])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpCounter:
    """The counter server over streamable HTTP on 127.0.0.1, in a process of its own."""

    def __init__(self, count_file: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.proc = subprocess.Popen(
            [sys.executable, str(COUNTER), "--http", str(self.port)],
            env={"PATH": "/usr/bin:/bin", "COUNTER_FILE": str(count_file)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(listening, 30, "the HTTP MCP server to listen")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
