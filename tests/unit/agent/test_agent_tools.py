"""The agent tools of issue 23 through their real code on real files: ranged reads, search,
replace_all, multi_edit (all or none, exactly once), diagnostics with and without an editor."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from dals.agent import editor_diagnostics, tools
from dals.agent.deps import InMemoryRunner, TaskDeps
from dals.workspace import files


def ctx(deps: TaskDeps):
    return SimpleNamespace(deps=deps)


@pytest.fixture
def deps(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    return TaskDeps(root=ws, runner=InMemoryRunner())


async def test_whole_read_over_1_mb_says_how_to_read_a_range_and_a_range_streams(deps):
    big = deps.root / "big.txt"
    big.write_text("".join(f"row {i}\n" for i in range(1, 200_001)))  # 1.9 MB
    out = await tools.read_file(ctx(deps), "big.txt")
    assert out.startswith("error:") and "offset=1, limit=2000" in out
    out = await tools.read_file(ctx(deps), "big.txt", offset=199_999, limit=5)
    assert out == "199999\trow 199999\n200000\trow 200000\n[big.txt: 200000 lines]"
    out = await tools.read_file(ctx(deps), "big.txt", offset=10, limit=2)
    assert (
        out == "    10\trow 10\n    11\trow 11\n[big.txt: 200000 lines; lines 10-11 of 200000; read on with offset=12]"
    )
    assert deps.seen["big.txt"] == files.file_hash(deps.root, "big.txt")  # a range guards edits too
    assert "past the end" in await tools.read_file(ctx(deps), "big.txt", offset=300_000)
    assert "limit must be" in await tools.read_file(ctx(deps), "big.txt", offset=1, limit=0)


async def test_ranged_read_of_a_binary_file_is_refused(deps):
    (deps.root / "a.bin").write_bytes(b"\x7fELF\x00\x00\x01")
    out = await tools.read_file(ctx(deps), "a.bin", offset=1)
    assert out.startswith("error:") and "binary" in out


async def test_long_lines_in_a_range_say_what_was_cut(deps):
    (deps.root / "min.js").write_text("x" * 50_000 + "\nshort\n")
    out = await tools.read_file(ctx(deps), "min.js", limit=10)
    first, second, footer = out.split("\n")
    assert first.startswith("     1\t" + "x" * 2000 + "… [line cut: 48000 more characters]")
    assert second == "     2\tshort" and "1 long line(s) cut at 2000 characters" in footer


async def test_search_tool_names_the_binary_match_and_refuses_bad_patterns(deps):
    (deps.root / "a.py").write_text("needle = 1\n")
    (deps.root / "b.bin").write_bytes(b"needle\x00")
    out = await tools.search(ctx(deps), "needle")
    assert out == "a.py:1: needle = 1\nb.bin: binary file matches (its bytes are not shown)"
    out = await tools.search(ctx(deps), "needle(")
    assert out.startswith("error: invalid pattern 'needle(': regex parse error")


async def test_replace_all_renames_every_occurrence_in_one_call(deps):
    (deps.root / "m.py").write_text("count = 0\ncount += 1\nprint(count)\n")
    out = await tools.edit_file(ctx(deps), "m.py", "count", "total")
    assert "occurs 3 times" in out and "replace_all" in out
    assert await tools.edit_file(ctx(deps), "m.py", "count", "total", replace_all=True) == "edited m.py"
    assert (deps.root / "m.py").read_text() == "total = 0\ntotal += 1\nprint(total)\n"
    assert deps.seen["m.py"] == files.file_hash(deps.root, "m.py") and deps.edited


async def test_multi_edit_is_all_or_none(deps):
    target = deps.root / "app.py"
    target.write_text("import os\n\ndef f(a):\n    return a\n")
    bad = [{"old": "import os", "new": "import os, sys"}, {"old": "missing", "new": "x"}]
    out = await tools.multi_edit(ctx(deps), "app.py", bad)
    assert out.startswith("error: edit 2: old text not found in app.py (after the edits before it)")
    assert target.read_text() == "import os\n\ndef f(a):\n    return a\n"
    good = [
        {"old": "import os", "new": "import os, sys"},
        {"old": "a", "new": "value", "replace_all": True},
        {"old": "def f(", "new": "def first("},
    ]
    assert await tools.multi_edit(ctx(deps), "app.py", good) == "edited app.py"
    assert target.read_text() == "import os, sys\n\ndef first(value):\n    return value\n"
    edit = [e for e in deps.runner.events if e["kind"] == "edit"][-1]
    assert "+def first(value):" in edit["detail"]["diff"]
    out = await tools.multi_edit(ctx(deps), "app.py", [{"old": "x"}])
    assert out.startswith("error: edit 1: give an object with string fields 'old' and 'new'")


async def test_multi_edit_refuses_a_file_changed_since_read(deps):
    target = deps.root / "app.py"
    target.write_text("a = 1\n")
    await tools.read_file(ctx(deps), "app.py")
    target.write_text("a = 2\n")  # someone else's change
    out = await tools.multi_edit(ctx(deps), "app.py", [{"old": "a", "new": "b"}])
    assert "changed since read" in out and target.read_text() == "a = 2\n"


def test_a_rerun_multi_edit_recognises_its_own_finished_edit(tmp_path):
    """Crash after the write, before the journal: the re-run sees the planned result hash."""
    (tmp_path / "f.txt").write_text("one two one\n")
    base = files.file_hash(tmp_path, "f.txt")
    edits = [{"old": "one", "new": "1", "replace_all": True}, {"old": "two", "new": "2"}]
    plan = files.multi_edit(tmp_path, "f.txt", edits, base, dry_run=True)
    first = files.multi_edit(tmp_path, "f.txt", edits, base, target_sha=plan.sha)
    again = files.multi_edit(tmp_path, "f.txt", edits, base, target_sha=plan.sha)
    assert (first.already_applied, again.already_applied) == (False, True)
    assert (tmp_path / "f.txt").read_text() == "1 2 1\n"


class EditorRunner(InMemoryRunner):
    """An attached editor: `buffers` are its open files; its answers are recorded."""

    def __init__(self, buffers: dict[str, str], diagnostics: dict[str, Any] | None = None):
        super().__init__()
        self.buffers, self.diagnostics, self.requests = buffers, diagnostics, []

    async def editor_for(self, path):
        return "s1" if path is None or path in self.buffers else None

    async def editor(self, request):
        self.requests.append(request)
        if request["op"] == "read":
            text = self.buffers[request["path"]]
            return {"ok": True, "text": text, "sha": files.content_hash(text.encode()), "at": "t"}
        if request["op"] == "edit":
            return {"applied": True, "sha": "sha256:new", "diff": "", "at": "t"}
        return self.diagnostics


async def test_multi_edit_of_an_open_file_goes_through_the_editor_with_its_result_hash(tmp_path):
    runner = EditorRunner({"a.py": "x = 1\ny = x\n"})
    deps = TaskDeps(root=tmp_path, runner=runner)
    await tools.read_file(ctx(deps), "a.py")
    out = await tools.multi_edit(ctx(deps), "a.py", [{"old": "x", "new": "z", "replace_all": True}])
    assert out.startswith("edited a.py in the user's editor")
    edit = runner.requests[-1]
    assert edit["op"] == "edit" and edit["edits"] == [{"old": "x", "new": "z", "replace_all": True}]
    assert edit["target"] == files.content_hash(b"z = 1\ny = z\n")


async def test_diagnostics_without_an_editor_says_so(deps):
    out = await tools.TOOLS[[t.name for t in tools.TOOLS].index("diagnostics")].function(ctx(deps), "a.py")
    assert out.startswith("no editor attached") and "run_command" in out


async def test_diagnostics_from_the_editor_waits_after_an_edit(tmp_path):
    answer = {
        "ok": True,
        "at": "t",
        "files": [
            {
                "path": "a.py",
                "diagnostics": [
                    {
                        "line": 2,
                        "column": 5,
                        "severity": "error",
                        "source": "pyright",
                        "code": "reportUndefinedVariable",
                        "message": '"foo" is not defined',
                    }
                ],
            }
        ],
    }
    runner = EditorRunner({}, answer)
    deps = TaskDeps(root=tmp_path, runner=runner)
    out = await editor_diagnostics.diagnostics(ctx(deps), "a.py")
    assert out == 'a.py:2:5: error [pyright reportUndefinedVariable] "foo" is not defined'
    assert runner.requests[-1] == {"op": "diagnostics", "sessionId": "s1", "path": "a.py", "settleMs": 0}
    deps.edited = True
    await editor_diagnostics.diagnostics(ctx(deps))
    assert runner.requests[-1]["settleMs"] == editor_diagnostics.SETTLE_MS and runner.requests[-1]["path"] is None
    assert not deps.edited
    runner.diagnostics = {"ok": True, "at": "t", "files": []}
    assert await editor_diagnostics.diagnostics(ctx(deps), "a.py") == "(no diagnostics for a.py in the editor)"
    runner.diagnostics = None
    assert "did not answer" in await editor_diagnostics.diagnostics(ctx(deps), "a.py")


def test_many_diagnostics_say_what_was_left_out():
    many = [
        {
            "path": "a.py",
            "diagnostics": [
                {"line": i, "column": 1, "severity": "warning", "source": "", "code": "", "message": "w"}
                for i in range(1, 251)
            ],
        }
    ]
    text, count = editor_diagnostics.render(many, None)
    assert count == 250 and text.splitlines()[-1].startswith("[50 more diagnostics not shown (of 250 in 1 files)")


async def test_a_range_of_an_open_file_is_read_from_the_buffer(tmp_path):
    (tmp_path / "a.py").write_text("on disk\n")
    runner = EditorRunner({"a.py": "one\ntwo\nthree\n"})
    deps = TaskDeps(root=tmp_path, runner=runner)
    out = await tools.read_file(ctx(deps), "a.py", offset=2, limit=1)
    assert out == "     2\ttwo\n[a.py: 3 lines; lines 2-2 of 3; read on with offset=3]"
    assert deps.seen["a.py"] == files.content_hash(b"one\ntwo\nthree\n")


@pytest.mark.parametrize("approve", [True, False])
async def test_review_mode_multi_edit_shows_the_diff_and_waits(tmp_path, approve):
    (tmp_path / "a.py").write_text("x = 1\ny = x\n")
    runner = InMemoryRunner(approve=approve)
    deps = TaskDeps(root=tmp_path, runner=runner, mode="review")
    out = await tools.multi_edit(ctx(deps), "a.py", [{"old": "x", "new": "z", "replace_all": True}])
    (asked,) = [e for e in runner.events if e["kind"] == "approval"]
    assert asked["detail"]["tool"] == "multi_edit" and "+y = z" in asked["detail"]["diff"]
    assert (tmp_path / "a.py").read_text() == ("z = 1\ny = z\n" if approve else "x = 1\ny = x\n")
    assert out == ("edited a.py" if approve else "rejected by the user; nothing was changed")


def test_every_tool_tells_the_model_its_purpose_arguments_and_an_example():
    for tool in tools.TOOLS:
        td = tool.tool_def
        assert f"E.g. {td.name}(" in td.description, td.name  # an "Example:" section would be dropped
        props = td.parameters_json_schema["properties"]
        assert props and all(p.get("description") for p in props.values()), (td.name, props)
    multi = next(t for t in tools.TOOLS if t.name == "multi_edit").tool_def.parameters_json_schema
    assert multi["$defs"]["Edit"]["required"] == ["old", "new"]
