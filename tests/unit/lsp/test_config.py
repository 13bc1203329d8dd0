"""Settings merge: initializationOptions / workspace/configuration over the environment."""

from __future__ import annotations

from dals.config.settings import DEFAULT_ALLOW
from dals.lsp.config import Config


def test_env_defaults(monkeypatch):
    monkeypatch.setenv("DALS_MODEL", "offline")
    monkeypatch.delenv("DALS_RESTATE_INGRESS_URL", raising=False)
    monkeypatch.delenv("DALS_RESTATE_ADMIN_URL", raising=False)
    c = Config.from_env()
    assert c.model == "offline" and c.ingress_url is None and c.commands_allow == DEFAULT_ALLOW


def test_nested_and_dotted_sections_override():
    c = Config(model="offline")
    c.merge(
        {
            "dals": {
                "model": "anthropic:claude-sonnet-4-5",
                "restate": {"ingressUrl": "http://127.0.0.1:1/"},
                "commands.allow": ["pytest"],
                "approval": "review",
            }
        }
    )
    assert c.model == "anthropic:claude-sonnet-4-5"
    assert c.ingress_url == "http://127.0.0.1:1" and c.commands_allow == ["pytest"] and c.approval == "review"
    c.merge({"restate.adminUrl": "http://127.0.0.1:2"})
    assert c.admin_url == "http://127.0.0.1:2" and not c.problems


def test_invalid_values_are_reported_and_ignored():
    c = Config(model="offline")
    c.merge({"model": 5, "approval": "sometimes", "restate": {"ingressUrl": "ftp://x"}, "commands": {"allow": "ls"}})
    assert c.model == "offline" and c.approval == "auto" and c.ingress_url is None
    assert len(c.problems) == 4
    assert any("dals.approval" in p for p in c.problems)


def test_half_configured_external_restate_is_a_problem(monkeypatch):
    monkeypatch.setenv("DALS_RESTATE_INGRESS_URL", "http://127.0.0.1:1")
    monkeypatch.delenv("DALS_RESTATE_ADMIN_URL", raising=False)
    c = Config.from_env()
    assert c.problems and "DALS_RESTATE_ADMIN_URL" in c.problems[0]


def test_non_dict_settings_are_ignored():
    c = Config(model="offline")
    c.merge(None)
    c.merge(["x"])
    assert c.model == "offline" and not c.problems


def test_the_context_window_setting_comes_from_the_environment_or_the_editor(monkeypatch):
    from dals.agent.models import context_window
    from dals.config.settings import DEFAULT_CONTEXT_TOKENS

    monkeypatch.setenv("DALS_CONTEXT_MAX_TOKENS", "32000")
    c = Config.from_env()
    assert c.context_max_tokens == 32000 and not c.problems
    c.merge({"dals": {"context": {"maxTokens": 8000}}})
    assert c.context_max_tokens == 8000
    c.merge({"context.maxTokens": 10})
    c.merge({"context.maxTokens": "lots"})
    assert c.context_max_tokens == 8000 and len(c.problems) == 2
    assert "dals.context.maxTokens must be a whole number of tokens >= 1000" in c.problems[0]
    monkeypatch.setenv("DALS_CONTEXT_MAX_TOKENS", "many")
    assert Config.from_env().problems == [
        "dals.context.maxTokens must be a whole number of tokens >= 1000 (from environment), got 'many'"
    ]
    assert context_window("offline", 8000) == {"maxTokens": 8000, "source": "setting"}
    assert context_window("offline") == {"maxTokens": DEFAULT_CONTEXT_TOKENS, "source": "default"}
