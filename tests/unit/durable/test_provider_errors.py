"""Provider errors inside the model step: a refused key or an invalid request is terminal (with a
message that names the variable, never its value); rate limits and 5xx stay retryable."""
from __future__ import annotations

import pytest
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelRequest, UserPromptPart
from pydantic_ai.models import ModelRequestParameters, infer_model
from restate import TerminalError

from dals.durable.model_events import CountingModel

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
async def test_transient_errors_stay_retryable(status, monkeypatch):
    with pytest.raises(ModelHTTPError):
        await call(make(status, monkeypatch))
