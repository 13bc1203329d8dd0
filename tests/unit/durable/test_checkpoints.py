"""The checkpoint planning (which changes a rewind/undo reverts, in what order), the conversation
cut at an event, and the store's hash-guarded revert, on real files."""

from __future__ import annotations

from dals.durable.checkpoint_plan import changes_after, commands_after, cut_messages
from dals.workspace.checkpoints import BlobStore, capture, revert
from dals.workspace.text_bytes import content_hash


def edit(seq, path, before, sha):
    return {
        "seq": seq,
        "kind": "edit",
        "title": f"write_file {path}",
        "detail": {"path": path, "before": before, "sha": sha},
    }


def test_a_chain_of_changes_to_one_file_reverts_to_its_first_before_newest_path_first():
    events = [edit(3, "a", "h0", "h1"), edit(4, "b", None, "b1"), edit(5, "a", "h1", "h2")]
    plans = changes_after(events, 0, set())
    assert [(p["path"], p["now"], p["back"], p["seqs"]) for p in plans] == [
        ("a", "h2", "h0", [5, 3]),
        ("b", "b1", None, [4]),
    ]
    assert changes_after(events, 4, set())[0]["back"] == "h1"  # a rewind to event 4 keeps the first change
    assert changes_after(events, 0, {3, 4, 5}) == []  # reverted before: nothing the second time


def test_a_change_by_someone_else_between_the_tasks_changes_stops_the_chain():
    plans = changes_after([edit(3, "a", "h0", "h1"), edit(5, "a", "user", "h2")], 0, set())
    assert plans[0]["back"] == "user" and plans[0]["seqs"] == [5] and plans[0]["broken"] == [3]


def test_commands_after_a_point_are_listed():
    events = [
        {"seq": 2, "kind": "tool", "title": "run_command a", "detail": {"command": "a"}},
        {"seq": 6, "kind": "tool", "title": "run_command b", "detail": {"command": "make b"}},
        {"seq": 7, "kind": "tool", "title": "read_file x", "detail": {}},
    ]
    assert commands_after(events, 3) == ["make b"]


def test_the_conversation_is_cut_after_the_model_step_and_its_tool_results():
    req = lambda kind: {"kind": "request", "parts": [{"part_kind": kind}]}  # noqa: E731
    messages = [
        req("user-prompt"),
        {"kind": "response", "parts": []},
        req("tool-return"),
        {"kind": "response", "parts": []},
        req("tool-return"),
        {"kind": "response", "parts": []},
    ]
    events = [
        {"seq": 1, "kind": "status"},
        {"seq": 2, "kind": "model"},
        {"seq": 3, "kind": "edit"},
        {"seq": 4, "kind": "model"},
        {"seq": 5, "kind": "edit"},
        {"seq": 6, "kind": "model"},
    ]
    assert cut_messages(messages, events, 3) == messages[:3]
    assert cut_messages(messages, events, 4) == messages[:5]
    assert cut_messages(messages, events, 1) == []
    assert cut_messages(messages, events, 6) == messages


def test_revert_is_guarded_idempotent_and_byte_exact(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    ws = tmp_path / "ws"
    ws.mkdir()
    before = bytes(range(256)) * 64
    (ws / "f.bin").write_bytes(before)
    h0 = capture(ws, "f.bin", content_hash(before), store)
    (ws / "f.bin").write_bytes(b"task")
    assert revert(ws, "f.bin", content_hash(b"task"), h0, store) is None
    assert (ws / "f.bin").read_bytes() == before
    assert revert(ws, "f.bin", content_hash(b"task"), h0, store) is None  # already back: nothing written
    (ws / "f.bin").write_bytes(b"user")
    assert "changed since" in revert(ws, "f.bin", content_hash(b"task"), h0, store)
    assert (ws / "f.bin").read_bytes() == b"user"
    (ws / "new.txt").write_bytes(b"made")
    assert revert(ws, "new.txt", content_hash(b"made"), None, store) is None and not (ws / "new.txt").exists()
    assert "not kept" in revert(ws, "f.bin", content_hash(b"user"), content_hash(b"never kept"), store)
