"""read_file, write_file and edit_file: hash guards, idempotence, atomicity."""

import os
import stat

import pytest

from dals.workspace.errors import ConflictError, WorkspaceError
from dals.workspace.files import (
    content_hash,
    edit_file,
    file_hash,
    read_file,
    write_file,
)


@pytest.fixture
def root(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def f():\n    return 1\n")
    return tmp_path


def test_content_hash_is_sha256_of_bytes():
    assert content_hash(b"") == ("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def test_read_returns_text_and_hash_of_raw_bytes(root):
    result = read_file(root, "src/app.py")
    assert result.path == "src/app.py"
    assert result.text == "def f():\n    return 1\n"
    assert result.sha == content_hash((root / "src" / "app.py").read_bytes())
    assert file_hash(root, "src/app.py") == result.sha
    assert file_hash(root, "src/none.py") is None


@pytest.mark.parametrize("data", [b"ab\x00cd", b"\xff\xfe caf\xe9"])
def test_read_refuses_binary(root, data):
    (root / "blob.bin").write_bytes(data)
    with pytest.raises(WorkspaceError, match="binary"):
        read_file(root, "blob.bin")


def test_read_refuses_huge_missing_and_directories(root):
    (root / "big.txt").write_text("x" * 2000)
    with pytest.raises(WorkspaceError, match="2000 bytes"):
        read_file(root, "big.txt", max_bytes=1000)
    with pytest.raises(WorkspaceError, match="does not exist"):
        read_file(root, "nope.txt")
    with pytest.raises(WorkspaceError, match="directory"):
        read_file(root, "src")


def test_write_new_file_creates_parents(root):
    result = write_file(root, "pkg/sub/new.py", "x = 1\n", None)
    assert (root / "pkg" / "sub" / "new.py").read_text() == "x = 1\n"
    assert result.created and not result.already_applied
    assert result.sha == content_hash(b"x = 1\n")
    assert "+x = 1" in result.diff


def test_write_rerun_is_already_applied(root):
    first = write_file(root, "new.py", "x = 1\n", None)
    mtime = os.stat(root / "new.py").st_mtime_ns
    again = write_file(root, "new.py", "x = 1\n", None)
    assert again.already_applied and not again.created
    assert again.sha == first.sha and again.diff == ""
    assert os.stat(root / "new.py").st_mtime_ns == mtime


def test_write_existing_with_matching_hash(root):
    sha = read_file(root, "src/app.py").sha
    result = write_file(root, "src/app.py", "def f():\n    return 2\n", sha)
    assert not result.created and not result.already_applied
    assert "-    return 1" in result.diff and "+    return 2" in result.diff
    assert (root / "src" / "app.py").read_text().endswith("return 2\n")


def test_write_conflicts_when_changed_since_read(root):
    sha = read_file(root, "src/app.py").sha
    (root / "src" / "app.py").write_text("user's work\n")
    with pytest.raises(ConflictError, match="changed since read; read it again"):
        write_file(root, "src/app.py", "agent's\n", sha)
    assert (root / "src" / "app.py").read_text() == "user's work\n"


def test_write_conflicts_when_deleted_since_read(root):
    sha = read_file(root, "src/app.py").sha
    (root / "src" / "app.py").unlink()
    with pytest.raises(ConflictError, match="changed since read"):
        write_file(root, "src/app.py", "agent's\n", sha)
    assert not (root / "src" / "app.py").exists()


def test_write_conflicts_when_created_since_looked(root):
    (root / "late.py").write_text("user made this\n")
    with pytest.raises(ConflictError, match="created since the task looked"):
        write_file(root, "late.py", "agent's\n", None)
    assert (root / "late.py").read_text() == "user made this\n"


def test_write_to_directory_is_refused(root):
    with pytest.raises(WorkspaceError, match="directory"):
        write_file(root, "src", "x", None)


def test_atomic_write_keeps_mode_and_leaves_no_temp(root):
    script = root / "run.sh"
    script.write_text("echo 1\n")
    script.chmod(0o750)
    sha = read_file(root, "run.sh").sha
    write_file(root, "run.sh", "echo 2\n", sha)
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    assert script.read_text() == "echo 2\n"
    assert sorted(p.name for p in root.iterdir()) == ["run.sh", "src"]


def test_write_through_inner_symlink_keeps_the_link(root):
    os.symlink("src/app.py", root / "link.py")
    sha = read_file(root, "link.py").sha
    write_file(root, "link.py", "new\n", sha)
    assert (root / "link.py").is_symlink()
    assert (root / "src" / "app.py").read_text() == "new\n"


def test_edit_replaces_the_one_occurrence(root):
    sha = read_file(root, "src/app.py").sha
    result = edit_file(root, "src/app.py", "return 1", "return 42", sha)
    assert (root / "src" / "app.py").read_text() == "def f():\n    return 42\n"
    assert result.sha == file_hash(root, "src/app.py")
    assert not result.already_applied and "+    return 42" in result.diff


def test_edit_errors_for_zero_or_many_occurrences(root):
    (root / "m.txt").write_text("a\nb\na\n")
    sha = read_file(root, "m.txt").sha
    with pytest.raises(WorkspaceError, match="old text not found in m.txt"):
        edit_file(root, "m.txt", "zzz", "y", sha)
    with pytest.raises(WorkspaceError, match="occurs 2 times in m.txt; include more context"):
        edit_file(root, "m.txt", "a\n", "c\n", sha)
    with pytest.raises(WorkspaceError, match="same"):
        edit_file(root, "m.txt", "b", "b", sha)
    with pytest.raises(WorkspaceError, match="does not exist"):
        edit_file(root, "none.txt", "a", "b", sha)
    assert (root / "m.txt").read_text() == "a\nb\na\n"


def test_edit_rerun_after_it_was_applied_is_already_applied(root):
    sha = read_file(root, "src/app.py").sha
    first = edit_file(root, "src/app.py", "return 1", "return 42", sha)
    again = edit_file(root, "src/app.py", "return 1", "return 42", sha)
    assert again.already_applied and again.diff == ""
    assert again.sha == first.sha
    assert (root / "src" / "app.py").read_text() == "def f():\n    return 42\n"


def test_edit_rerun_of_a_deletion_is_already_applied(root):
    (root / "d.txt").write_text("keep\ndrop me\nkeep too\n")
    sha = read_file(root, "d.txt").sha
    edit_file(root, "d.txt", "drop me\n", "", sha)
    again = edit_file(root, "d.txt", "drop me\n", "", sha)
    assert again.already_applied
    assert (root / "d.txt").read_text() == "keep\nkeep too\n"


def test_edit_conflicts_when_the_user_changed_the_file(root):
    sha = read_file(root, "src/app.py").sha
    (root / "src" / "app.py").write_text("def f():\n    return 1  # user\n")
    with pytest.raises(ConflictError, match="changed since read; read it again"):
        edit_file(root, "src/app.py", "return 1", "return 42", sha)
    assert (root / "src" / "app.py").read_text() == "def f():\n    return 1  # user\n"


def test_edit_conflicts_when_applied_and_then_changed_by_the_user(root):
    sha = read_file(root, "src/app.py").sha
    edit_file(root, "src/app.py", "return 1", "return 42", sha)
    (root / "src" / "app.py").write_text("# user\ndef f():\n    return 42\n")
    with pytest.raises(ConflictError):
        edit_file(root, "src/app.py", "return 1", "return 42", sha)
