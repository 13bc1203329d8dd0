"""Fix for restate-sdk 1.3.0: `PydanticTypeAdapter.serialize` builds a new pydantic `TypeAdapter`
on every call (about 15 ms per journaled model step, see docs/benchmarks.md).

We replace that one method with an equivalent that keeps one adapter per concrete type. The output
bytes are identical (same `TypeAdapter(type(obj)).dump_json(obj)`), only built once. Installed by
`install()` when the worker imports `dals.durable`; remove it once the SDK caches by itself.
"""
from __future__ import annotations

from pydantic import TypeAdapter
from restate.ext.pydantic._serde import PydanticTypeAdapter

_adapters: dict[type, TypeAdapter] = {}
_original = PydanticTypeAdapter.serialize


def _adapter(tp: type) -> TypeAdapter:
    adapter = _adapters.get(tp)
    if adapter is None:
        adapter = _adapters[tp] = TypeAdapter(tp)
    return adapter


def _serialize(self, obj):  # same contract as PydanticTypeAdapter.serialize
    if obj is None:
        return b""
    return _adapter(type(obj)).dump_json(obj)


def install() -> None:
    PydanticTypeAdapter.serialize = _serialize


def uninstall() -> None:
    PydanticTypeAdapter.serialize = _original
