"""The one edit rule shared by the disk, the editor's buffer and the editor."""

import random

import pytest

from dals.workspace.errors import WorkspaceError
from dals.workspace.text_edits import TextEdit, apply_edits, changed_span, parse_edits


def test_edits_apply_in_order_and_ambiguity_is_refused():
    text = "a = 1\nb = a\n"
    assert (
        apply_edits(
            text,
            parse_edits([{"old": "a", "new": "c", "replace_all": True}, {"old": "b = c", "new": "b = c + 1"}]),
            "f",
        )
        == "c = 1\nb = c + 1\n"
    )
    with pytest.raises(WorkspaceError, match="occurs 2 times in f; include more context, or set replace_all"):
        apply_edits(text, [TextEdit("a", "c")], "f")
    with pytest.raises(WorkspaceError, match="occurs 2 times"):  # overlapping occurrences count
        apply_edits("aaa", [TextEdit("aa", "b")], "f")


@pytest.mark.parametrize(
    "raw, message",
    [
        ([], "non-empty list"),
        ("x", "non-empty list"),
        ([{"old": "a"}], "edit 1: give an object"),
        ([{"old": "", "new": "x"}], "old text is empty"),
        ([{"old": "a", "new": "a"}], "nothing to edit"),
        ([{"old": "a", "new": "b", "typo": 1}], "unknown field"),
        ([{"old": "a", "new": "b"}] * 101, "at most 100"),
    ],
)
def test_bad_edit_lists_are_refused_naming_the_edit(raw, message):
    with pytest.raises(WorkspaceError, match=message):
        parse_edits(raw)


def test_changed_span_is_one_edit_that_never_splits_a_crlf():
    rng = random.Random(23)
    for _ in range(5000):
        a = "".join(rng.choice("ab\r\nc") for _ in range(rng.randint(0, 14)))
        b = "".join(rng.choice("ab\r\nc") for _ in range(rng.randint(0, 14)))
        start, end, new = changed_span(a, b)
        assert a[:start] + new + a[end:] == b
        for cut in (start, end):
            assert not (0 < cut < len(a) and a[cut - 1] == "\r" and a[cut] == "\n"), (a, b, cut)
    assert changed_span("x = count\n", "x = total\n") == (4, 9, "total")
