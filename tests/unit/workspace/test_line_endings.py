"""Text a task writes into a file takes the file's line breaks; mixed files are left as given."""

from __future__ import annotations

import pytest

from dals.workspace import files
from dals.workspace.line_endings import adapt, style
from dals.workspace.text_bytes import content_hash


@pytest.mark.parametrize(
    "text, eol",
    [("a\r\nb\r\n", "\r\n"), ("a\rb", "\r"), ("a\nb\n", "\n"), ("one line", None), ("a\r\nb\n", None), ("", None)],
)
def test_style(text, eol):
    assert style(text) == eol


def test_adapt_converts_every_break_to_the_files():
    assert adapt("x\r\ny", "1\n2\r3\r\n") == "1\r\n2\r\n3\r\n"
    assert adapt("x\ry", "1\n2") == "1\r2"
    assert adapt("x\r\ny\n", "1\n2") == "1\n2"  # mixed: as given
    assert adapt("x", "1\r\n2") == "1\r\n2"  # no break yet: as given


def test_disk_edit_of_a_crlf_file_without_final_newline(tmp_path):
    data = b"def f():\r\n    return 1"
    (tmp_path / "m.py").write_bytes(data)
    files.edit_file(tmp_path, "m.py", "    return 1", "    x = 1\n    return x", content_hash(data))
    assert (tmp_path / "m.py").read_bytes() == b"def f():\r\n    x = 1\r\n    return x"


def test_disk_edit_quoting_lf_finds_crlf_text(tmp_path):
    data = b"a = 1\r\nb = 2\r\n"
    (tmp_path / "m.py").write_bytes(data)
    files.edit_file(tmp_path, "m.py", "a = 1\nb = 2", "a = 1\nb = 3", content_hash(data))
    assert (tmp_path / "m.py").read_bytes() == b"a = 1\r\nb = 3\r\n"


def test_disk_write_keeps_cr_only_file(tmp_path):
    data = b"a\rb\r"
    (tmp_path / "m.txt").write_bytes(data)
    files.write_file(tmp_path, "m.txt", "a\nc\n", content_hash(data))
    assert (tmp_path / "m.txt").read_bytes() == b"a\rc\r"
