"""search: ripgrep over the workspace as list_files sees it; large, binary and unreadable files named."""

import os

import pytest

from dals.workspace import search as search_module
from dals.workspace.errors import WorkspaceError
from dals.workspace.files import search
from tests.unit.workspace.test_listing import _write, repo  # noqa: F401 - the shared fixture


def test_matches_sorted_and_ignores_respected(repo):  # noqa: F811
    r = search(repo, r"TODO")
    assert r.matches == [
        "README.md:1: # TODO: readme",
        "docs/guide.md:1: see TODO",
        "src/keep.tmp:1: TODO kept",
        "src/main.py:2: # TODO: main",
    ]
    # symlinks are not followed (in_link.py's target is searched as itself, out_link.py leaves)
    assert r.binary == ["img.bin"] and not r.more and not r.unsearched
    assert r.to_model_text().splitlines()[-1] == "img.bin: binary file matches (its bytes are not shown)"


def test_glob_is_relative_to_the_root_and_long_lines_are_cut(repo):  # noqa: F811
    _write(repo, "src/long.py", "x" * 1000 + " TODO\n")
    _write(repo, "src/deeper/d.py", "TODO deep\n")
    r = search(repo, r"(?i)todo", glob="src/*.py", max_matches=2)
    assert r.matches == ["src/long.py:1: " + "x" * 300 + "…", "src/main.py:2: # TODO: main"]
    assert r.more == {"src/util.py": 1}
    assert "[1 more matches not shown, in src/util.py (1); narrow the pattern" in r.to_model_text()
    assert search(repo, "TODO", glob="*.md").matches == ["README.md:1: # TODO: readme"]
    assert search(repo, "TODO", glob="**/*.py").matches[0] == "src/deeper/d.py:1: TODO deep"
    assert search(repo, "nothing-matches-this").to_model_text() == (
        "(no matches; files ignored by .gitignore are not searched)"
    )


def test_a_37_mb_log_is_streamed_to_its_last_line(tmp_path):
    log = tmp_path / "service.log"
    with open(log, "wb") as f:
        f.write((b"2026-12-07 INFO request served in 12 ms\n") * 925_000)
        f.write(b"2026-12-07 ERROR needle\n")
    assert log.stat().st_size > 37_000_000
    r = search(tmp_path, "needle")
    assert r.matches == ["service.log:925001: 2026-12-07 ERROR needle"]
    assert not r.unsearched


def test_a_binary_file_is_searched_and_named_not_shown(tmp_path):
    (tmp_path / "blob.dat").write_bytes(os.urandom(2000) + b"\x00secret-token\x00" + os.urandom(100))
    (tmp_path / "plain.dat").write_bytes(b"\x00\x01\x02")
    r = search(tmp_path, "secret-token")
    assert r.matches == [] and r.binary == ["blob.dat"]
    assert "blob.dat: binary file matches" in r.to_model_text()


def test_unreadable_files_are_named_with_the_reason(tmp_path):
    r = search_module.SearchResult()
    rest = search_module._file_errors(
        "rg: ./secret/key.pem: Permission denied (os error 13)\nrg: ./x: Is a directory\n", r
    )
    assert rest == "" and r.unsearched == ["secret/key.pem: Permission denied (os error 13)", "x: Is a directory"]
    assert "[could not search 2 file(s): secret/key.pem: Permission denied" in r.to_model_text()


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("(unclosed", "invalid pattern '(unclosed': regex parse error"),
        ("", "pattern is empty"),
        ("a\x00b", "NUL byte"),
        ("x" * 3000, "at most 2000"),
    ],
)
def test_refused_patterns_are_tool_errors(repo, pattern, message):  # noqa: F811
    with pytest.raises(WorkspaceError, match=message.replace("(", r"\(")):
        search(repo, pattern)


def test_look_around_and_leading_dash_work(repo):  # noqa: F811
    assert search(repo, r"(?<=# )TODO: main").matches == ["src/main.py:2: # TODO: main"]
    _write(repo, "flags.txt", "-v --verbose\n")
    assert search(repo, "--verbose").matches == ["flags.txt:1: -v --verbose"]


def test_bad_globs_are_refused(repo):  # noqa: F811
    with pytest.raises(WorkspaceError, match="leaves the workspace"):
        search(repo, "TODO", glob="../*")
