"""The one place DALS reaches into httpx's internals: its command-line tool is not loaded.

httpx 0.28's `__init__` imports `httpx._main` (the `httpx` CLI: click, rich, pygments) whenever
those are installed, inside `try: ... except ImportError` so that it works without them. No DALS
process runs that CLI, and loading it costs each process that imports httpx (`dals lsp`, the
supervisor, the workers) about 6 MiB and, in `dals lsp`'s start-up, about 90 ms. `skip_cli()`,
called by `import dals` before anything imports httpx, makes that import fail the way it does
without click and rich: httpx then defines its own placeholder `main`.

Written for httpx 0.28; with another version, `skip_cli()` does nothing (httpx loads as usual).
tests/unit/client/test_httpx_compat.py fails when httpx's behaviour relied on here changes.
"""

from __future__ import annotations

import os
import sys

WRITTEN_FOR = "0.28."
CLI = "httpx._main"


def _version() -> str | None:
    """httpx's version without importing it: from the first `httpx/__version__.py` on sys.path,
    where `import httpx` finds it (a plain assignment there)."""
    for entry in sys.path:
        try:
            with open(os.path.join(entry or ".", "httpx", "__version__.py"), encoding="utf-8") as f:
                for line in f:
                    if line.startswith("__version__"):
                        return line.split("=", 1)[1].strip().strip("\"'")
        except OSError:
            continue
    return None


def skip_cli() -> bool:
    """Keep httpx's CLI module out of this process (True if done)."""
    if "httpx" in sys.modules or not (_version() or "").startswith(WRITTEN_FOR):
        return False
    sys.modules.setdefault(CLI, None)  # type: ignore[arg-type]  # None: "import fails", as documented by importlib
    return sys.modules[CLI] is None
