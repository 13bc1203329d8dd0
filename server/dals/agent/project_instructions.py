"""Project instructions: the workspace's `AGENTS.md` (the cross-tool convention), which the model
sees with every request of a turn.

The nearest one applies: from the directory of the file the task is about (else the workspace
root) up to the root, the first directory with an `AGENTS.md`, or a `CLAUDE.md` where it has no
`AGENTS.md`. Read when a turn starts (the durable layer journals the answer with the turn).
"""

from __future__ import annotations

from pathlib import Path

NAMES = ("AGENTS.md", "CLAUDE.md")
MAX_CHARS = 32_000


def find(root: Path, path: str | None = None) -> dict[str, str]:
    """`{"path": workspace-relative path, "text": its text}` of the instructions that apply, or {}."""
    root = root.resolve()
    start = (root / path).parent if path else root
    try:
        start = start.resolve()
        start.relative_to(root)
    except (OSError, ValueError):
        start = root
    for directory in (start, *start.parents):
        for name in NAMES:
            candidate = directory / name
            if candidate.is_file():
                try:
                    text = candidate.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                if len(text) > MAX_CHARS:
                    text = text[:MAX_CHARS] + f"\n[… cut at {MAX_CHARS} characters]"
                return {"path": candidate.relative_to(root).as_posix(), "text": text}
        if directory == root:
            break
    return {}


def as_instructions(found: dict[str, str]) -> str | None:
    """The text the model gets, naming where it comes from; None without instructions."""
    if not found:
        return None
    return f"Project instructions from {found['path']} (follow them):\n\n{found['text']}"
