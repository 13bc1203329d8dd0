"""The TypeAdapter cache gives the same bytes as the SDK's own serializer, built once."""
from __future__ import annotations

from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
from restate.ext.pydantic._serde import PydanticTypeAdapter

from dals.durable import serde_cache


def response() -> ModelResponse:
    return ModelResponse(parts=[TextPart("hi"), ToolCallPart("read_file", {"path": "a.py"}, tool_call_id="c1")])


def test_same_bytes_and_one_adapter_per_type():
    serde = PydanticTypeAdapter(ModelResponse)
    msg = response()
    serde_cache.uninstall()
    before = serde.serialize(msg)
    serde_cache.install()
    try:
        after = serde.serialize(msg)
        assert after == before
        assert serde.deserialize(after) == serde.deserialize(before)
        serde.serialize(response())
        assert list(serde_cache._adapters).count(ModelResponse) == 1
        assert serde.serialize(None) == b""
    finally:
        serde_cache.uninstall()
    assert PydanticTypeAdapter.serialize is serde_cache._original
