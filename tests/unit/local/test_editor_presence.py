"""The state dir's editor registry and the one rule that picks a live editor session."""

from __future__ import annotations

from dals.local.editor_presence import FRESH_S, freshest, lookup, publish, registry_dir, withdraw


def test_the_freshest_live_session_with_the_file_open_wins():
    sessions = {
        "old": {"open": ["a.py"], "seenAt": 100.0},
        "new": {"open": ["a.py"], "seenAt": 110.0},
        "other": {"open": ["b.py"], "seenAt": 120.0},
    }
    assert freshest(sessions, "a.py", now=115.0) == "new"
    assert freshest(sessions, "c.py", now=115.0) is None
    assert freshest(sessions, "a.py", now=110.0 + FRESH_S) is None  # silent too long: gone


def test_registry_round_trip_per_workspace(tmp_path):
    reg = registry_dir(tmp_path)
    publish(reg, "s1", {"ws1": ["a.py"], "ws2": ["b.py"]}, seen_at=1000.0)
    publish(reg, "s2", {"ws1": ["a.py"]}, seen_at=1005.0)
    assert lookup(reg, "ws1", "a.py", now=1006.0) == "s2"
    assert lookup(reg, "ws2", "b.py", now=1006.0) == "s1"
    assert lookup(reg, "ws2", "a.py", now=1006.0) is None  # open in ws1 only
    publish(reg, "s2", {"ws1": []}, seen_at=1007.0)  # closed it: replaced, not appended
    assert lookup(reg, "ws1", "a.py", now=1008.0) == "s1"
    withdraw(reg, "s1")
    assert lookup(reg, "ws1", "a.py", now=1008.0) is None
    assert sorted(p.name for p in reg.iterdir()) == ["s2.json"]  # no temp file left


def test_unreadable_entries_and_a_missing_registry_mean_no_editor(tmp_path):
    assert lookup(registry_dir(tmp_path), "ws1", "a.py", now=0.0) is None
    reg = registry_dir(tmp_path)
    publish(reg, "good", {"ws1": ["a.py"]}, seen_at=10.0)
    (reg / "broken.json").write_text("{not json")
    (reg / "wrong.json").write_text('{"workspaces": [], "seenAt": "x"}')
    assert lookup(reg, "ws1", "a.py", now=11.0) == "good"
