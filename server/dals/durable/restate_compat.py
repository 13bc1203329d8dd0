"""The one place DALS touches restate-sdk's private API. Written for restate-sdk 1.3; importing
this module with another version fails at once (ImportError naming both versions), so an upgrade
is a deliberate change: run tests/unit/durable/test_restate_compat.py, whose tests fail when the
upstream behaviour relied on here changes, and adapt or drop what they name.

What is touched, and who uses it:
- `PydanticTypeAdapter` (`restate.ext.pydantic._serde`): the serde of a journaled model response
  (journaled_model.py), so journals match the SDK's own `RestateModelWrapper`'s. Its `serialize`
  builds a new pydantic `TypeAdapter` on every call; `install_serde_cache()` replaces it with one
  that keeps an adapter per concrete type (same bytes; docs/benchmarks.md, "Library patches").
- The context's flushes (`take_and_send_output`, `leave`): after_flush.py runs a callback right
  after the SDK hands buffered journal output to Restate.
- The context's wait on Restate's stream (`create_poll_or_cancel_coroutine`), its VM's
  `is_completed(handle)`, and a step's future (`.handle`, `.future.get()`): eager_steps.py.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

WRITTEN_FOR = "1.3."
VERSION = importlib.metadata.version("restate-sdk")
if not VERSION.startswith(WRITTEN_FOR):
    raise ImportError(
        f"dals needs restate-sdk {WRITTEN_FOR}x, found {VERSION}: install restate-sdk=={WRITTEN_FOR}0 "
        "or adapt dals/durable/restate_compat.py (its tests say what changed)"
    )

from pydantic import TypeAdapter  # noqa: E402
from restate.ext.pydantic._serde import PydanticTypeAdapter  # noqa: E402

__all__ = [
    "PydanticTypeAdapter",
    "FLUSHES",
    "POLL",
    "install_serde_cache",
    "uninstall_serde_cache",
    "has_flushes",
    "wrap_flushes",
    "has_step_internals",
    "is_acknowledged",
    "acknowledgement",
    "step_handle",
    "wrap_poll",
]

# --- the serde cache --------------------------------------------------------------------------

_adapters: dict[type, TypeAdapter[Any]] = {}
_original_serialize = PydanticTypeAdapter.serialize


def _adapter(tp: type) -> TypeAdapter[Any]:
    adapter = _adapters.get(tp)
    if adapter is None:
        adapter = _adapters[tp] = TypeAdapter(tp)
    return adapter


def _cached_serialize(self: Any, obj: Any) -> bytes:  # PydanticTypeAdapter.serialize's contract
    if obj is None:
        return b""
    return _adapter(type(obj)).dump_json(obj)


def install_serde_cache() -> None:
    PydanticTypeAdapter.serialize = _cached_serialize  # type: ignore[method-assign]


def uninstall_serde_cache() -> None:
    PydanticTypeAdapter.serialize = _original_serialize  # type: ignore[method-assign]


# --- the context's flushes (after_flush.py) ---------------------------------------------------

FLUSHES = ("take_and_send_output", "leave")  # ServerInvocationContext coroutines that send output


def has_flushes(ctx: Any) -> bool:
    return all(inspect.iscoroutinefunction(getattr(ctx, name, None)) for name in FLUSHES)


def wrap_flushes(ctx: Any, wrap: Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]) -> None:
    """Replace each flush of this context instance (one per invocation attempt) by `wrap(flush)`."""
    for name in FLUSHES:
        setattr(ctx, name, wrap(getattr(ctx, name)))


# --- a step's acknowledgement (eager_steps.py) ------------------------------------------------

POLL = "create_poll_or_cancel_coroutine"  # ServerInvocationContext's wait on Restate's stream


def has_step_internals(ctx: Any) -> bool:
    return (
        callable(getattr(ctx, "run_typed", None))
        and inspect.iscoroutinefunction(getattr(ctx, POLL, None))
        and callable(getattr(getattr(ctx, "vm", None), "is_completed", None))
    )


def wrap_poll(ctx: Any, gate: Callable[[Callable[[Any], Awaitable[None]]], Callable[[Any], Awaitable[None]]]) -> None:
    """Replace this context instance's wait on Restate's stream by `gate(wait)`."""
    setattr(ctx, POLL, gate(getattr(ctx, POLL)))


def is_acknowledged(ctx: Any, handle: int | None) -> bool:
    """Restate has acknowledged the journal entry of the step with this handle."""
    return bool(ctx.vm.is_completed(handle))


def step_handle(future: Any) -> int:
    """The journal handle of the future `ctx.run_typed` returned (ServerDurableFuture.handle)."""
    return int(future.handle)


def acknowledgement(future: Any) -> Awaitable[Any]:
    """The coroutine that waits for that step's journaled outcome (ServerDurableFuture's LazyFuture)."""
    return future.future.get()
