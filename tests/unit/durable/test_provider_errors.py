"""Provider errors inside the model step: a refused key or an invalid request is terminal (with a
message that names the variable, never its value); rate limits and 5xx stay retryable."""

from __future__ import annotations

import pytest
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelRequest, UserPromptPart
from pydantic_ai.models import ModelRequestParameters, infer_model
from restate import TerminalError
from restate.exceptions import RetryableError

from dals.durable.model_events import CountingModel
from dals.durable.model_retry import RETRYABLE_CODE, backoff_s, max_attempts

KEY = "sk-unit-secret-abcdef123456"


class Refusing(CountingModel):
    """The real OpenAI chat model object (for its name and base URL), answering with `status`."""

    status = 401

    async def request(self, *args, **kwargs):
        self.wrapped.request = self._fail  # the provider's answer, without a network
        return await super().request(*args, **kwargs)

    async def _fail(self, *args, **kwargs):
        raise ModelHTTPError(self.status, "gpt-4.1", {"error": {"message": f"Incorrect API key provided: {KEY}"}})


def make(status, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    model = Refusing(infer_model("openai-chat:gpt-4.1"))
    model.status = status
    return model


async def call(model):
    return await model.request([ModelRequest(parts=[UserPromptPart("hi")])], None, ModelRequestParameters())


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_refusals_are_terminal_and_name_what_to_fix(status, monkeypatch):
    model = make(status, monkeypatch)
    with pytest.raises(TerminalError) as got:
        await call(model)
    message = got.value.message
    assert message.startswith(f"openai-chat:gpt-4.1: {status} ")
    assert KEY not in message
    if status == 401:
        assert "OPENAI_API_KEY" in message and "http://127.0.0.1:9/v1" in message
    assert got.value.status_code != 409  # 409 means "cancelled" to the task handler
    assert model.executed == 1


@pytest.mark.parametrize("status", [408, 409, 429, 500, 503])
async def test_transient_errors_stay_retryable_with_a_reason(status, monkeypatch):
    with pytest.raises(RetryableError) as got:
        await call(make(status, monkeypatch))
    assert got.value.status_code == RETRYABLE_CODE  # what ModelRetries retries (and nothing else)
    assert got.value.message.startswith(f"openai-chat:gpt-4.1: {status} ")
    assert KEY not in got.value.message


async def test_a_refused_connection_is_retryable(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # discard port: nothing listens
    model = CountingModel(infer_model("openai-chat:gpt-4.1"))
    assert model.wrapped.client.max_retries == 0  # every attempt is visible, none hidden in the SDK
    with pytest.raises(RetryableError) as got:
        await call(model)
    assert got.value.message.startswith("openai-chat:gpt-4.1: ModelConnectionError: Connection error.")
    assert KEY not in got.value.message


def test_backoff_doubles_up_to_five_seconds():
    assert [backoff_s(n) for n in range(1, 9)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]


def test_max_attempts_setting(monkeypatch):
    monkeypatch.setenv("DALS_TASK_MAX_ATTEMPTS", "3")
    assert max_attempts() == 3
    for bad in ("0", "-2"):
        monkeypatch.setenv("DALS_TASK_MAX_ATTEMPTS", bad)
        assert max_attempts() == 1
    monkeypatch.setenv("DALS_TASK_MAX_ATTEMPTS", "lots")
    assert max_attempts() == 12
