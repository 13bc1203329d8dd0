"""Paths outside the workspace are refused and nothing outside is touched."""

import os

import pytest

from dals.workspace.confine import relative, resolve
from dals.workspace.errors import WorkspaceError
from dals.workspace.files import edit_file, read_file, write_file


@pytest.fixture
def layout(tmp_path):
    root = tmp_path / "ws"
    outside = tmp_path / "outside"
    (root / "a" / "b").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    (root / "a" / "b" / "inside.txt").write_text("inside\n")
    os.symlink(outside, root / "out_dir")
    os.symlink(outside / "secret.txt", root / "out_file")
    os.symlink(outside / "missing.txt", root / "dangling_out")
    os.symlink("a/b", root / "in_dir")
    os.symlink("a/b/inside.txt", root / "in_file")
    return root, outside


ESCAPES = [
    "..",
    "../outside/secret.txt",
    "a/../../outside/secret.txt",
    "a/b/../../../x",
    "/etc/passwd",
    "out_dir/secret.txt",
    "out_dir/new.txt",
    "out_file",
    "dangling_out",
    "a/\x00b",
    "x/" * 2100,
]


@pytest.mark.parametrize("rel", ESCAPES)
def test_escape_forms_are_refused(layout, rel):
    root, _ = layout
    with pytest.raises(WorkspaceError):
        resolve(root, rel)


@pytest.mark.parametrize("rel", ["out_dir/secret.txt", "out_file", "../outside/secret.txt"])
def test_refused_paths_are_neither_read_nor_written(layout, rel):
    root, outside = layout
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        read_file(root, rel)
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        write_file(root, rel, "pwned\n", None)
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        edit_file(root, rel, "secret", "pwned", "sha256:0")
    assert (outside / "secret.txt").read_text() == "secret\n"


def test_dangling_symlink_out_is_not_created_through(layout):
    root, outside = layout
    with pytest.raises(WorkspaceError):
        write_file(root, "dangling_out", "pwned\n", None)
    with pytest.raises(WorkspaceError):
        write_file(root, "out_dir/new.txt", "pwned\n", None)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_messages_name_the_problem(layout):
    root, _ = layout
    with pytest.raises(WorkspaceError, match="absolute"):
        resolve(root, "/etc/passwd")
    with pytest.raises(WorkspaceError, match="NUL"):
        resolve(root, "a\x00")
    with pytest.raises(WorkspaceError, match="4096"):
        resolve(root, "a" * 5000)


def test_normal_paths_and_inner_symlinks_are_allowed(layout):
    root, _ = layout
    real = root.resolve()
    assert resolve(root, "") == real
    assert resolve(root, ".") == real
    assert resolve(root, "a/b/inside.txt") == real / "a" / "b" / "inside.txt"
    assert resolve(root, "a/./b/../b/inside.txt") == real / "a" / "b" / "inside.txt"
    assert resolve(root, "in_dir/inside.txt") == real / "a" / "b" / "inside.txt"
    assert resolve(root, "in_file") == real / "a" / "b" / "inside.txt"
    assert resolve(root, "new/dir/file.txt") == real / "new" / "dir" / "file.txt"
    assert read_file(root, "in_file").text == "inside\n"


def test_tilde_is_a_plain_name(layout):
    root, _ = layout
    assert resolve(root, "~/x") == root.resolve() / "~" / "x"
    write_file(root, "~/x", "t\n", None)
    assert (root / "~" / "x").read_text() == "t\n"


def test_relative_is_posix_and_root_is_dot(layout):
    root, _ = layout
    assert relative(root, root) == "."
    assert relative(root, root.resolve() / "a" / "b") == "a/b"
