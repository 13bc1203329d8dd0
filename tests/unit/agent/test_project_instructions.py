"""AGENTS.md: the nearest one above the task's file applies, CLAUDE.md where a directory has no
AGENTS.md, nothing outside the workspace, long files cut."""

from __future__ import annotations

from dals.agent.project_instructions import MAX_CHARS, as_instructions, find


def test_the_nearest_applies_and_claude_md_stands_in(tmp_path):
    (tmp_path / "AGENTS.md").write_text("root rules")
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "CLAUDE.md").write_text("pkg rules")
    assert find(tmp_path) == {"path": "AGENTS.md", "text": "root rules"}
    assert find(tmp_path, "pkg/sub/x.py") == {"path": "pkg/CLAUDE.md", "text": "pkg rules"}
    (tmp_path / "pkg" / "AGENTS.md").write_text("pkg agents")
    assert find(tmp_path, "pkg/sub/x.py")["path"] == "pkg/AGENTS.md"
    assert find(tmp_path, "other/y.py")["path"] == "AGENTS.md"
    assert "Project instructions from AGENTS.md" in as_instructions(find(tmp_path))


def test_none_outside_or_absent_and_long_ones_cut(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "AGENTS.md").write_text("above the workspace: not ours")
    assert find(ws) == {} and as_instructions({}) is None
    assert find(ws, "../escape.py") == {}
    (ws / "AGENTS.md").write_text("x" * (MAX_CHARS + 10))
    got = find(ws)["text"]
    assert got.startswith("x" * MAX_CHARS) and got.endswith(f"[… cut at {MAX_CHARS} characters]")
