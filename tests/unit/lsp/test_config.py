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
    c.merge({"dals": {"model": "anthropic:claude-sonnet-4-5", "restate": {"ingressUrl": "http://127.0.0.1:1/"},
                      "commands.allow": ["pytest"], "approval": "review"}})
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
