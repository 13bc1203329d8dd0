"""restate_compat: the restate-sdk version it was written for, and one test per patch of the SDK's
private API that fails when the upstream behaviour it relies on changes."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect

import pytest
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart

from dals.durable import restate_compat
from dals.durable.restate_compat import PydanticTypeAdapter


def response() -> ModelResponse:
    return ModelResponse(parts=[TextPart("hi"), ToolCallPart("read_file", {"path": "a.py"}, tool_call_id="c1")])


def test_an_unknown_restate_sdk_version_is_refused(monkeypatch):
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "9.0.0")
    with pytest.raises(ImportError, match=r"restate-sdk 1\.3\.x, found 9\.0\.0"):
        importlib.reload(restate_compat)
    monkeypatch.undo()
    importlib.reload(restate_compat)  # back to the real one for the other tests


def test_serde_cache_same_bytes_and_one_adapter_per_type():
    serde = PydanticTypeAdapter(ModelResponse)
    msg = response()
    restate_compat.uninstall_serde_cache()
    before = serde.serialize(msg)
    restate_compat.install_serde_cache()
    try:
        after = serde.serialize(msg)
        assert after == before
        assert serde.deserialize(after) == serde.deserialize(before)
        serde.serialize(response())
        assert list(restate_compat._adapters).count(ModelResponse) == 1
        assert serde.serialize(None) == b""
    finally:
        restate_compat.uninstall_serde_cache()
    assert PydanticTypeAdapter.serialize is restate_compat._original_serialize


def test_upstream_serialize_still_builds_a_type_adapter_per_call():
    """The serde cache pays only while the SDK builds an adapter on every call: once it caches by
    itself, this fails and the cache goes."""
    source = inspect.getsource(restate_compat._original_serialize)
    assert "TypeAdapter(" in source and "dump_json" in source


def test_upstream_context_still_has_the_flushes_after_flush_wraps():
    """If an SDK upgrade renames them, hints silently fall back to the loop's next turn: fail here."""
    from restate.server_context import ServerInvocationContext

    for name in restate_compat.FLUSHES:
        assert inspect.iscoroutinefunction(getattr(ServerInvocationContext, name, None)), name


def test_upstream_still_has_what_eager_steps_wrap():
    """If an SDK upgrade renames these, eager steps turn themselves off (plain runs): fail here."""
    from restate.server_context import LazyFuture, ServerDurableFuture, ServerInvocationContext
    from restate.vm import VMWrapper

    assert callable(ServerInvocationContext.run_typed)
    assert inspect.iscoroutinefunction(getattr(ServerInvocationContext, restate_compat.POLL))
    assert callable(VMWrapper.is_completed)
    assert inspect.iscoroutinefunction(LazyFuture.get)
    init = inspect.getsource(ServerDurableFuture.__init__)
    assert "self.handle = handle" in init and "self.future = LazyFuture(" in init
