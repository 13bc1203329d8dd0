"""cancel_marks: a cancel's mark in the state dir, named for an invocation and nothing else."""

from __future__ import annotations

from dals.local import cancel_marks


def test_cancel_marks_are_named_for_an_invocation_only(tmp_path):
    cancel_marks.mark(tmp_path, "inv_1abc")
    assert cancel_marks.marked(tmp_path, "inv_1abc") and not cancel_marks.marked(tmp_path, "inv_2")
    cancel_marks.mark(tmp_path, "../../etc/x")  # not an invocation id: nothing written anywhere
    assert sorted(p.name for p in (tmp_path / "cancels").iterdir()) == ["inv_1abc"]
    cancel_marks.clear(tmp_path, "inv_1abc")
    assert not cancel_marks.marked(tmp_path, "inv_1abc")
    cancel_marks.mark(tmp_path / "no-such-state-dir", "inv_1abc")  # a state dir no runtime used
    assert not (tmp_path / "no-such-state-dir").exists()
