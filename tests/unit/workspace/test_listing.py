"""list_files: .gitignore (nested), globs, truncation, bad globs (search: test_search.py)."""

import os

import pytest

from dals.workspace import listing
from dals.workspace.errors import WorkspaceError
from dals.workspace.files import list_files


def _write(root, rel, text=""):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    _write(root, ".gitignore", "build/\n*.log\n.venv\n")
    _write(root, ".git/config", "TODO in git\n")
    _write(root, ".git/HEAD", "ref\n")
    _write(root, "README.md", "# TODO: readme\n")
    _write(root, "app.log", "TODO in log\n")
    _write(root, "build/out.py", "TODO built\n")
    _write(root, ".venv/lib/x.py", "TODO venv\n")
    _write(root, "src/main.py", "import os\n# TODO: main\nx = 1\n")
    _write(root, "src/util.py", "def util():\n    return 'todo'\n")
    _write(root, "src/.gitignore", "generated/\n*.tmp\n!keep.tmp\n")
    _write(root, "src/generated/g.py", "TODO generated\n")
    _write(root, "src/a.tmp", "TODO tmp\n")
    _write(root, "src/keep.tmp", "TODO kept\n")
    _write(root, "docs/guide.md", "see TODO\n")
    (root / "img.bin").write_bytes(b"TODO\x00\x01")
    outside = tmp_path / "outside.py"
    outside.write_text("TODO outside\n")
    os.symlink(outside, root / "out_link.py")
    os.symlink(tmp_path, root / "out_dir")
    os.symlink("src/main.py", root / "in_link.py")
    return root


def test_gitignore_root_and_nested_and_git_dir(repo):
    paths, truncated = list_files(repo)
    assert not truncated
    assert paths == [
        ".gitignore",
        "README.md",
        "docs/guide.md",
        "img.bin",
        "in_link.py",
        "src/.gitignore",
        "src/keep.tmp",
        "src/main.py",
        "src/util.py",
    ]


def test_ignored_directories_are_not_entered(repo, monkeypatch):
    entered = []
    real_scandir = os.scandir

    def spy(path):
        entered.append(os.path.basename(os.fspath(path)))
        return real_scandir(path)

    monkeypatch.setattr(listing.os, "scandir", spy)
    list_files(repo)
    assert "build" not in entered and "generated" not in entered
    assert ".git" not in entered and ".venv" not in entered and "out_dir" not in entered
    assert "src" in entered


def test_glob_filter_is_pathlib_style(repo):
    assert list_files(repo, "**/*.py")[0] == ["in_link.py", "src/main.py", "src/util.py"]
    assert list_files(repo, "*.md")[0] == ["README.md"]
    assert list_files(repo, "src/*.py")[0] == ["src/main.py", "src/util.py"]
    assert list_files(repo, "docs/**/*")[0] == ["docs/guide.md"]


def test_limit_truncates_in_sorted_order(repo):
    paths, truncated = list_files(repo, limit=3)
    assert truncated
    assert paths == [".gitignore", "README.md", "docs/guide.md"]
    assert list_files(repo, "**/*.py", limit=3) == (["in_link.py", "src/main.py", "src/util.py"], False)


def test_sorted_order_with_dots_and_slashes(tmp_path):
    for rel in ["a/b.txt", "a.txt", "a-b.txt", "ab/c.txt"]:
        _write(tmp_path, rel)
    paths, _ = list_files(tmp_path)
    assert paths == sorted(paths) == ["a-b.txt", "a.txt", "a/b.txt", "ab/c.txt"]


def test_bad_globs_are_refused(repo):
    with pytest.raises(WorkspaceError):
        list_files(repo, "/etc/*")
    with pytest.raises(WorkspaceError):
        list_files(repo, "../*")
