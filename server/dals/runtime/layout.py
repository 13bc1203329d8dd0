"""The files of one runtime inside its state dir: pidfiles, logs, ports, Restate data."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Ports:
    """Loopback ports of one runtime, chosen once per state dir and kept. Only the worker listens
    on TCP (Restate calls it there, signed): Restate itself is on unix sockets (`Layout.sockets`)."""

    worker: int


class Layout:
    """Where a runtime keeps its things. Two state dirs never share a file or a port."""

    RESTATE_NODE = "dals-local"  # Restate's node name: its data and sockets are under restate/<it>/

    def __init__(self, root: Path):
        self.root = root
        self.logs = root / "logs"
        self.restate_data = root / "restate"
        self.sockets = self.restate_data / self.RESTATE_NODE  # ingress.sock, admin.sock, fabric.sock

    def ensure(self) -> Layout:
        self.root.mkdir(parents=True, exist_ok=True)
        try:  # the journal holds prompts, file contents and command output: the user's eyes only
            os.chmod(self.root, 0o700)
        except OSError:
            pass
        self.logs.mkdir(parents=True, exist_ok=True)
        self.restate_data.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def restate_config(self) -> Path:
        return self.root / "restate.toml"

    @property
    def ingress_socket(self) -> Path:
        return self.sockets / "ingress.sock"

    @property
    def zygote_socket(self) -> Path:
        """The fork server's (runtime/zygote.py): there once it is ready to fork."""
        return self.root / "zygote.sock"

    @property
    def admin_socket(self) -> Path:
        return self.sockets / "admin.sock"

    @property
    def runtime_file(self) -> Path:
        """Written by the supervisor: pids and URLs of what it runs."""
        return self.root / "runtime.json"

    @property
    def supervisor_pid(self) -> Path:
        return self.root / "supervisor.pid"

    @property
    def supervisor_lock(self) -> Path:
        return self.root / "supervisor.lock"

    @property
    def up_lock(self) -> Path:
        return self.root / "up.lock"

    @property
    def ports_file(self) -> Path:
        return self.root / "ports.json"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def read_runtime(self) -> dict:
        try:
            return json.loads(self.runtime_file.read_text())
        except (OSError, ValueError):
            return {}

    def child_pids(self) -> list[tuple[str, int]]:
        """(part, pid) of the supervisor's children in `runtime.json`, in stopping order: the
        standby of a DALS before the fork server (if any), every worker process, the Restate
        server, the fork server."""
        data = self.read_runtime()
        parts = [("standby", (data.get("standby") or {}).get("pid"))]
        parts += [("worker", (w or {}).get("pid")) for w in data.get("workers") or [data.get("worker")]]
        parts.append(("restate", (data.get("restate") or {}).get("pid")))
        parts.append(("zygote", (data.get("zygote") or {}).get("pid")))
        return [(part, pid) for part, pid in dict.fromkeys(parts) if pid]

    def worker_pids(self) -> list[int]:
        """Every worker process in `runtime.json` (several with DALS_WORKER_PROCESSES > 1); the
        first is the one named `worker`."""
        return [pid for part, pid in self.child_pids() if part == "worker"]

    def write_runtime(self, data: dict) -> None:
        tmp = self.runtime_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, self.runtime_file)

    def ports(self) -> Ports:
        """The runtime's ports: the kept ones while they are free, new free ones otherwise."""
        kept: dict = {}
        try:
            kept = json.loads(self.ports_file.read_text())
        except (OSError, ValueError):
            pass
        chosen: dict[str, int] = {}
        for name in ("worker",):
            port = kept.get(name)
            if not isinstance(port, int) or not port_is_free(port):
                port = free_port(exclude=set(chosen.values()))
            chosen[name] = port
        ports = Ports(**chosen)
        if chosen != {k: kept.get(k) for k in chosen}:
            self.ports_file.write_text(json.dumps(asdict(ports)))
        return ports

    def kept_ports(self) -> Ports | None:
        try:
            return Ports(worker=json.loads(self.ports_file.read_text())["worker"])
        except (OSError, ValueError, TypeError, KeyError):
            return None


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(exclude: set[int] | frozenset[int] = frozenset()) -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in exclude:
            return port
