"""Google Gemini model strings resolve with the installed `google` extra, offline: pydantic-ai 2.68
names the Gemini API `google:` and Vertex AI `google-cloud:`; the pre-v2 `google-gla:` is refused."""

from __future__ import annotations

import socket

import pytest
from pydantic_ai.models.google import GoogleModel

from dals.agent.models import ModelConfigError, resolve_model
from dals.agent.providers import key_hint, model_string_of


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("resolving a model must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def google_key(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "dummy-google-key")


def test_google_model_string_resolves_offline(google_key, no_network):
    model = resolve_model("google:gemini-2.5-flash")
    assert isinstance(model, GoogleModel)
    assert model.model_name == "gemini-2.5-flash"
    assert model_string_of(model) == "google:gemini-2.5-flash"  # what failure messages will name


def test_legacy_gemini_key_variable_is_honoured(monkeypatch, no_network):
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", "dummy-gemini-key")
    assert isinstance(resolve_model("google:gemini-2.5-flash"), GoogleModel)


def test_missing_key_is_refused_naming_the_variable(monkeypatch, no_network):
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    with pytest.raises(ModelConfigError, match="GOOGLE_API_KEY"):
        resolve_model("google:gemini-2.5-flash")
    assert key_hint("google") == "GOOGLE_API_KEY or GEMINI_API_KEY"


@pytest.mark.parametrize("legacy", ["google-gla:gemini-2.5-flash", "google-vertex:gemini-2.5-flash"])
def test_pre_v2_prefixes_are_refused(legacy, google_key, no_network):
    with pytest.raises(ModelConfigError, match="Unknown model"):
        resolve_model(legacy)
