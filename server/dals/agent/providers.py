"""What each model provider needs from the environment: its key variable and its base URL.

Used to tell a user what to fix (`dals doctor`, a task failed by a 401) without ever reading a
key's value: only whether a variable is set. pydantic-ai itself reads these variables; this table
only mirrors the names, for messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    label: str
    key_vars: tuple[str, ...]
    """Any one of these set counts as a key (pydantic-ai's order)."""
    base_url_var: str | None
    default_base_url: str | None
    key_optional_with_base_url: bool = False
    """A custom base URL (a local server) may need no key at all."""


_OPENAI = Provider("OpenAI", ("OPENAI_API_KEY",), "OPENAI_BASE_URL", "https://api.openai.com/v1", True)
_GOOGLE = Provider(
    "Google Gemini", ("GOOGLE_API_KEY", "GEMINI_API_KEY"), None, "https://generativelanguage.googleapis.com"
)

PROVIDERS: dict[str, Provider] = {
    "openai-chat": _OPENAI,
    "openai": _OPENAI,
    "openai-responses": _OPENAI,
    "anthropic": Provider("Anthropic", ("ANTHROPIC_API_KEY",), "ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
    "google": _GOOGLE,
    "google-gla": _GOOGLE,  # the name in older pydantic-ai releases
    "ollama": Provider("Ollama", (), "OLLAMA_BASE_URL", None),
    "groq": Provider("Groq", ("GROQ_API_KEY",), None, "https://api.groq.com"),
    "mistral": Provider("Mistral", ("MISTRAL_API_KEY",), None, "https://api.mistral.ai"),
    "deepseek": Provider("DeepSeek", ("DEEPSEEK_API_KEY",), None, "https://api.deepseek.com"),
    "openrouter": Provider("OpenRouter", ("OPENROUTER_API_KEY",), None, "https://openrouter.ai/api/v1"),
}

# pydantic-ai model classes whose `system` does not say which model-string prefix made them.
_PREFIX_OF_CLASS = {"OpenAIChatModel": "openai-chat", "OpenAIResponsesModel": "openai"}


def split(model: str) -> tuple[str | None, str]:
    """`"anthropic:claude-x"` → `("anthropic", "claude-x")`; no prefix → `(None, model)`."""
    if ":" in model:
        prefix, name = model.split(":", 1)
        return prefix, name
    return None, model


def provider_of(model: str) -> Provider | None:
    return PROVIDERS.get(split(model)[0] or "")


def key_present(provider: Provider, env: Mapping[str, str] | None = None) -> str | None:
    """The first key variable that is set (its name, never its value), else None."""
    env = os.environ if env is None else env
    return next((v for v in provider.key_vars if env.get(v, "").strip()), None)


def base_url(provider: Provider, env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    if provider.base_url_var and env.get(provider.base_url_var, "").strip():
        return env[provider.base_url_var].strip()
    return provider.default_base_url


def model_string_of(model) -> str:
    """`prefix:name` for a pydantic-ai model object, as a user would have written it."""
    prefix = _PREFIX_OF_CLASS.get(type(model).__name__) or getattr(model, "system", None) or "model"
    return f"{prefix}:{getattr(model, 'model_name', '?')}"


def key_hint(prefix: str | None) -> str:
    """'OPENAI_API_KEY' (or 'GOOGLE_API_KEY or GEMINI_API_KEY'); 'the provider's API key' if unknown."""
    p = PROVIDERS.get(prefix or "")
    if p is None or not p.key_vars:
        return "the provider's API key"
    return " or ".join(p.key_vars)


_SECRETISH = re.compile(r"\b(sk|pk|key|rk)-[A-Za-z0-9_\-*.]{6,}")


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """`text` with every known key's value, and anything shaped like a key, replaced by `***`."""
    env = os.environ if env is None else env
    for p in PROVIDERS.values():
        for var in p.key_vars:
            value = env.get(var, "")
            if len(value) >= 4:
                text = text.replace(value, "***")
    return _SECRETISH.sub("***", text)
