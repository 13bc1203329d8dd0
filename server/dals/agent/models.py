"""Turning a model setting into a pydantic-ai model: any pydantic-ai model string, or `offline`."""

from __future__ import annotations

from pathlib import Path

from pydantic_ai.models import Model, infer_model

from ..config import env_vars
from ..config.settings import DEFAULT_CONTEXT_TOKENS

OFFLINE = "offline"

HOW_TO_SET = (
    "set DALS_MODEL (or the `dals.model` setting) to a pydantic-ai model string such as "
    "'anthropic:claude-sonnet-4-5', 'openai-chat:gpt-4.1' or 'ollama:qwen3', or to 'offline' for the "
    "built-in deterministic planner"
)


class ModelConfigError(ValueError):
    """The model setting is missing or pydantic-ai refuses it; the message says how to fix it."""


def resolve_model(name: str | None) -> Model:
    if not name:
        raise ModelConfigError(f"no model configured: {HOW_TO_SET}")
    if name == OFFLINE:
        from .offline_model import offline_model

        log = env_vars.text("DALS_OFFLINE_REQUEST_LOG")
        return offline_model(Path(log) if log else None)
    try:
        return infer_model(name)
    except Exception as e:  # noqa: BLE001 - pydantic-ai raises several types for bad strings/missing keys
        raise ModelConfigError(f"model {name!r} refused: {e}") from e


def context_window(name: str, setting: int | None = None) -> dict[str, int | str]:
    """The context window a task's requests are fitted into: `{maxTokens, source}` from the setting
    (`context.maxTokens`), else the model's profile (pydantic-ai's, from the provider or
    genai-prices), else `DEFAULT_CONTEXT_TOKENS`."""
    if setting:
        return {"maxTokens": int(setting), "source": "setting"}
    try:
        window = resolve_model(name).context_window
    except Exception:  # noqa: BLE001 - a model that does not resolve here fails at the task's start instead
        window = None
    if isinstance(window, int) and window > 0:
        return {"maxTokens": window, "source": "model"}
    return {"maxTokens": DEFAULT_CONTEXT_TOKENS, "source": "default"}
