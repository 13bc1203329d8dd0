"""`resolve` never hands out a path outside the workspace, whatever the agent sends; it refuses
with WorkspaceError and nothing else. The tree has symlinks in, out, dangling-out and a loop."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from dals.workspace.confine import MAX_PATH_CHARS, resolve
from dals.workspace.errors import WorkspaceError

PARTS = [
    "..",
    ".",
    "",
    "a",
    "a/b",
    "b",
    "A",
    "link_in",
    "link_out",
    "link_out_dangling",
    "link_up",
    "loop",
    "deep",
    "~",
    "~root",
    "$HOME",
    "\x00",
    "é",
    "e\u0301",
    "ａ",
    "\u202e",
    "\\..\\",
    "..\\..",
    " ..",
    ".. ",
    "...",
    "x" * 255,
    "y" * 300,
    "secret.txt",
    "SECRET.TXT",
    "/",
    "//",
    "/etc/passwd",
]
paths = st.one_of(
    st.lists(st.sampled_from(PARTS), max_size=12).map("/".join),
    st.lists(st.sampled_from(PARTS) | st.text(max_size=12), max_size=8).map("/".join),
    st.text(max_size=60),
    st.integers(MAX_PATH_CHARS - 10, MAX_PATH_CHARS + 10).map(lambda n: ("a/" * n)[:n]),
)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("confine")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not yours\n")
    root = base / "ws"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "file.txt").write_text("mine\n")
    os.symlink("a", root / "link_in")
    os.symlink(outside, root / "link_out")
    os.symlink(outside / "missing", root / "link_out_dangling")
    os.symlink("..", root / "a" / "link_up")  # up to the root: still inside
    os.symlink("../..", root / "a" / "b" / "deep")  # a/b/deep -> root: inside; root/deep does not exist
    os.symlink("loop", root / "loop")
    # the root itself reached through a symlink: resolve must compare real paths
    os.symlink(root, base / "ws_link")
    return base / "ws_link", Path(os.path.realpath(root))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rel=paths)
@example(rel="link_out/secret.txt")
@example(rel="link_out_dangling/new.txt")
@example(rel="a/link_up/../../outside/secret.txt")
@example(rel="a/b/deep/../outside")
@example(rel="loop/x")
@example(rel="a/\x00/../../etc")
def test_resolve_stays_inside_or_refuses(tree, rel):
    root, real_root = tree
    try:
        got = resolve(root, rel)
    except WorkspaceError as e:
        assert str(e) and "\x00" not in str(e)  # a message the model can read
        return
    assert got.is_absolute()
    assert got == real_root or real_root in got.parents, (rel, got)
    assert Path(os.path.realpath(got)) == got  # nothing left to follow
    assert "\x00" not in rel and len(rel) <= MAX_PATH_CHARS and not rel.startswith("/")


@pytest.mark.parametrize(
    "rel",
    [
        "link_out",
        "link_out/secret.txt",
        "link_out_dangling",
        "link_out_dangling/x",
        "../outside/secret.txt",
        "/etc/passwd",
        "a/../../outside",
        "a/b/deep/../outside/secret.txt",
        "x" * (MAX_PATH_CHARS + 1),
        "a/\x00",
    ],
)
def test_known_escapes_are_refused(tree, rel):
    root, _ = tree
    with pytest.raises(WorkspaceError):
        resolve(root, rel)
