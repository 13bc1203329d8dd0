"""Everything the runtime listens on is bound to the loopback interface only."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import urlparse

LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp{,6}


def _listening_sockets() -> dict[str, tuple[str, int]]:
    """socket inode -> (address, port) for every listening TCP socket of this network namespace."""
    found = {}
    for table, family in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] != LISTEN:
                continue
            hex_addr, hex_port = cols[1].split(":")
            raw = bytes.fromhex(hex_addr)
            # the kernel prints each 32-bit word in host (little-endian) order
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found[cols[9]] = (str(ipaddress.ip_address(raw)), int(hex_port, 16))
    return found


def _descendants(root: int) -> set[int]:
    children: dict[int, set[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, set()).add(int(entry))
    seen, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children.get(pid, ()))
    return seen


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def test_every_listening_socket_of_the_runtime_is_loopback(runtime):
    st = runtime.status()
    pids = set()
    for part in ("supervisor", "restate", "worker"):
        assert st[part]["pid"], f"{part} is not running"
        pids |= _descendants(st[part]["pid"])
    listening = _listening_sockets()
    ours = {listening[i] for pid in pids for i in _socket_inodes(pid) if i in listening}
    ports = {port for _, port in ours}
    expected = {urlparse(st["worker"]["url"]).port}
    assert expected <= ports, (expected, ours)  # we really found the runtime's sockets
    restate_tcp = {listening[i] for i in _socket_inodes(st["restate"]["pid"]) if i in listening}
    assert not restate_tcp, f"restate-server listens on TCP: {restate_tcp}"  # unix sockets only
    exposed = sorted((addr, port) for addr, port in ours if not ipaddress.ip_address(addr).is_loopback)
    assert not exposed, f"listening beyond loopback: {exposed}"
