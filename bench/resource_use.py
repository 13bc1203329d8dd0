"""What the runtime's processes cost, read from /proc (psutil is not needed): CPU time, resident
memory (sampled in the background, keeping the peak) and the disk a directory takes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

Pids = int | tuple[int, ...] | None  # one process, or a group counted together (worker processes)


def _kib_field(pid: Pids, proc_file: str, field: str) -> float | None:
    """`field` (a kB line) of /proc/PID/`proc_file` in MiB; of a group of processes, their sum."""
    if isinstance(pid, tuple):
        sizes = [mb for mb in (_kib_field(p, proc_file, field) for p in pid) if mb is not None]
        return sum(sizes) if sizes else None
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/{proc_file}") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def rss_mb(pid: Pids) -> float | None:
    """Resident set size in MiB (VmRSS from /proc; psutil is not needed); of a group, the sum."""
    return _kib_field(pid, "status", "VmRSS:")


def pss_mb(pid: Pids) -> float | None:
    """Proportional set size in MiB (Pss from /proc/PID/smaps_rollup): each page a process shares
    with others counted as its share, so the PSS of several processes adds up to the memory they
    take together (their RSS counts every shared page once per process); of a group, the sum."""
    return _kib_field(pid, "smaps_rollup", "Pss:")


def children_named(parent: int | None, name: str) -> tuple[int, ...]:
    """The child processes of `parent` whose name (/proc/PID/comm) is `name`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and comm == name:
            found.append(int(entry))
    return tuple(found)


def cpu_seconds(pid: Pids) -> float:
    """User + system CPU time of one process so far (from /proc/PID/stat); of a group, the sum."""
    if isinstance(pid, tuple):
        return sum(map(cpu_seconds, pid))
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(") ", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def cpu_of(pids: dict[str, int | None]) -> dict[str, float]:
    """CPU seconds so far of each named process (`"self"`: this process, `time.process_time`)."""
    return {k: time.process_time() if k == "self" else cpu_seconds(p) for k, p in pids.items()}


class RssSampler:
    """Samples the RSS of named processes every `interval` s in the background; keeps the peak."""

    def __init__(self, pids: dict[str, int | None], interval: float = 0.2):
        self.pids = {k: v for k, v in pids.items() if v}
        self.interval = interval
        self.peak: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self._task: asyncio.Task | None = None

    def sample(self) -> dict[str, float]:
        for name, pid in self.pids.items():
            mb = rss_mb(pid)
            if mb is not None:
                self.last[name] = mb
                self.peak[name] = max(self.peak.get(name, 0.0), mb)
        return dict(self.last)

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc) -> None:
        if self._task:
            self._task.cancel()
        self.sample()


def disk_usage(path: Path) -> tuple[int, int]:
    """(allocated, apparent) bytes under `path`: st_blocks as `du` counts them, and file sizes as
    `du --apparent-size` does. RocksDB preallocates its write-ahead logs, so the first barely moves
    until a log fills up; the second is what was written."""
    allocated = apparent = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(root, name))
                allocated += st.st_blocks * 512
                apparent += st.st_size
    return allocated, apparent
