"""Cost estimates: the built-in table, dated releases, overrides, unknown models."""

from __future__ import annotations

import pytest

from dals.client import pricing
from dals.client.task_summary import public_summary


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    monkeypatch.delenv("DALS_PRICES", raising=False)
    pricing.configure(None)
    yield
    pricing.configure(None)


def test_known_models_with_and_without_provider_and_dated_suffix():
    assert pricing.price_of("openai-chat:gpt-4.1") == (2.0, 8.0)
    assert pricing.price_of("gpt-4.1-mini") == (0.4, 1.6)
    assert pricing.price_of("anthropic:claude-sonnet-4-5-20250929") == (3.0, 15.0)
    assert pricing.price_of("openai:gpt-4o-mini-2024-07-18") == (0.15, 0.6)
    assert pricing.cost_usd("anthropic:claude-sonnet-4-5", 1_000_000, 100_000) == 4.5
    assert pricing.cost_usd("offline", 500, 500) == 0.0


def test_unknown_model_has_no_cost():
    assert pricing.price_of("ollama:qwen3") is None
    assert pricing.cost_usd("openai-chat:double", 10, 10) is None
    assert pricing.cost_usd(None, 10, 10) is None
    assert pricing.price_of("gpt-4.1-turbo") is None  # a suffix that is not a date is another model


def test_env_and_settings_override_in_order(monkeypatch):
    monkeypatch.setenv("DALS_PRICES", '{"ollama:*": [0, 0], "gpt-4.1": {"input": 1, "output": 1}}')
    assert pricing.price_of("ollama:qwen3") == (0.0, 0.0)
    assert pricing.price_of("openai-chat:gpt-4.1") == (1.0, 1.0)
    pricing.configure({"gpt-4.1": (5.0, 5.0)})
    assert pricing.price_of("openai-chat:gpt-4.1") == (5.0, 5.0)
    monkeypatch.setenv("DALS_PRICES", "[broken")
    pricing.configure(None)
    assert pricing.price_of("openai-chat:gpt-4.1") == (2.0, 8.0)  # a bad table is ignored, never a crash


@pytest.mark.parametrize("raw", ['{"m": [1]}', '{"m": [1, "x"]}', '{"m": [-1, 1]}', "[]", '{"m": [true, 1]}'])
def test_invalid_tables_are_refused_naming_the_entry(raw):
    with pytest.raises(pricing.PriceError):
        pricing.parse_prices(raw)


def test_public_summary_adds_cost_or_null():
    base = {
        "taskId": "t",
        "status": "succeeded",
        "model": "openai-chat:gpt-4.1-mini",
        "usage": {"requests": 2, "inputTokens": 1000, "outputTokens": 500},
    }
    assert public_summary(base, None, 0)["usage"]["costUsd"] == pytest.approx(0.0012)
    assert public_summary(dict(base, model="ollama:qwen3"), None, 0)["usage"]["costUsd"] is None
    assert public_summary({"taskId": "t", "status": "queued"}, None, 0)["usage"]["costUsd"] is None
