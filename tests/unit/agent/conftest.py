"""Fixtures for the agent-layer unit tests: recording stub tools and the OpenAI double."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import ModelRetry

from tests.support.openai_double import OpenAIDouble


class ToolRecorder:
    """Stub agent tools with the contract's names and parameters, over a real directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def tools(self) -> list[Callable[..., Any]]:
        calls, root = self.calls, self.root

        async def list_files(glob: str = "**/*") -> str:
            calls.append(("list_files", {"glob": glob}))
            return "\n".join(sorted(str(p.relative_to(root)) for p in root.glob(glob) if p.is_file()))

        async def read_file(path: str) -> str:
            calls.append(("read_file", {"path": path}))
            target = root / path
            if not target.is_file():
                raise ModelRetry(f"no such file: {path}")
            return target.read_text()

        async def search(pattern: str, glob: str | None = None) -> str:
            calls.append(("search", {"pattern": pattern, "glob": glob}))
            return ""

        async def write_file(path: str, content: str) -> str:
            calls.append(("write_file", {"path": path, "content": content}))
            (root / path).write_text(content)
            return f"wrote {path}"

        async def edit_file(path: str, old: str, new: str) -> str:
            calls.append(("edit_file", {"path": path, "old": old, "new": new}))
            return f"edited {path}"

        async def run_command(command: str, cwd: str = ".", timeout_s: int = 120) -> str:
            calls.append(("run_command", {"command": command, "cwd": cwd, "timeout_s": timeout_s}))
            return f"exit 0\n{command}\n"

        return [list_files, read_file, search, write_file, edit_file, run_command]

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def recorder(tmp_path: Path) -> ToolRecorder:
    return ToolRecorder(tmp_path)


@pytest.fixture
def double() -> Iterator[OpenAIDouble]:
    with OpenAIDouble() as running:
        yield running
