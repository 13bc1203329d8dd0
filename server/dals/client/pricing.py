"""Cost estimates: USD per million input/output tokens for a few well-known models.

Prices change; this table is a convenience, not a bill. Override or extend it with `DALS_PRICES`
(JSON, in the environment of whoever reads tasks: `dals tasks`, `dals lsp`) or the `dals.prices`
setting, e.g. `{"openai-chat:gpt-4.1": [2.0, 8.0], "ollama:*": [0, 0]}` or
`{"my-model": {"input": 0.5, "output": 1.5}}`. Keys are a model string (`provider:name`), a bare
model name (any provider), or a glob (`*`). A model with no price gets `costUsd: null`.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from ..config import env_vars

# USD per 1M tokens (input, output), list prices as published by the providers in 2025.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "o3": (2.00, 8.00),
    "o4-mini": (1.10, 4.40),
    "claude-opus-4-1": (15.00, 75.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-sonnet-4-0": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "gemini-2.5-pro": (1.25, 10.00),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40),
    "offline": (0.0, 0.0),
}

_configured: dict[str, tuple[float, float]] = {}


class PriceError(ValueError):
    """A price table that is not `{model: [input, output]}` or `{model: {input, output}}`."""


def parse_prices(raw: Any) -> dict[str, tuple[float, float]]:
    """Validate a price table (from JSON or settings); raise PriceError naming the bad entry."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as e:
            raise PriceError(f"not JSON: {e}") from None
    if not isinstance(raw, dict):
        raise PriceError("must be an object {model: [inputUsdPer1M, outputUsdPer1M]}")
    out: dict[str, tuple[float, float]] = {}
    for model, value in raw.items():
        if isinstance(value, dict):
            value = [value.get("input"), value.get("output")]
        if (
            not isinstance(value, (list, tuple))
            or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in value)
        ):
            raise PriceError(f"price of {model!r} must be [input, output] USD per 1M tokens, got {value!r}")
        out[str(model)] = (float(value[0]), float(value[1]))
    return out


def configure(prices: dict[str, tuple[float, float]] | None) -> None:
    """Prices from settings (`dals.prices`), over the built-in table and `DALS_PRICES`."""
    _configured.clear()
    _configured.update(prices or {})


def _env_prices() -> dict[str, tuple[float, float]]:
    raw = env_vars.raw("DALS_PRICES")
    if not raw:
        return {}
    try:
        return parse_prices(raw)
    except PriceError:
        return {}  # reported by `dals doctor` and the settings check; a cost is never worth a crash


def price_of(model: str | None) -> tuple[float, float] | None:
    """(input, output) USD per 1M tokens for a model string, or None when unknown."""
    if not model:
        return None
    name = model.split(":", 1)[1] if ":" in model else model
    for table in (_configured, _env_prices(), PRICES):
        found = _lookup(table, model, name)
        if found is not None:
            return found
    return None


def _lookup(table: dict[str, tuple[float, float]], model: str, name: str) -> tuple[float, float] | None:
    for key in (model, name):
        if key in table:
            return table[key]
    # a dated or suffixed release of a known model: `claude-sonnet-4-5-20250929`, `gpt-4.1-2025-04-14`
    prefixes = [k for k in table if "*" not in k and name.startswith(k + "-") and ":" not in k]
    dated = [k for k in prefixes if name[len(k) + 1 :][:1].isdigit()]
    if dated:
        return table[max(dated, key=len)]
    for key, price in table.items():
        if "*" in key and (fnmatch.fnmatchcase(model, key) or fnmatch.fnmatchcase(name, key)):
            return price
    return None


def cost_usd(model: str | None, input_tokens: int, output_tokens: int) -> float | None:
    """Estimated USD for the tokens, rounded to 1/10000 of a cent; None when the price is unknown."""
    price = price_of(model)
    if price is None:
        return None
    return round((input_tokens * price[0] + output_tokens * price[1]) / 1_000_000, 6)
