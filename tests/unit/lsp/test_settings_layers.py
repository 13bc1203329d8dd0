"""Settings layers: defaults < pyproject.toml [tool.dals] < .dals.toml < environment
< initializationOptions < workspace/configuration; invalid values reported, lower layer kept."""

from __future__ import annotations

import pytest

from dals.config.settings import DEFAULT_ALLOW
from dals.lsp.config import Config

ENV = (
    "DALS_MODEL",
    "DALS_APPROVAL",
    "DALS_COMMANDS_ALLOW",
    "DALS_PRICES",
    "DALS_RESTATE_INGRESS_URL",
    "DALS_RESTATE_ADMIN_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def write(root, pyproject=None, dals_toml=None):
    if pyproject is not None:
        (root / "pyproject.toml").write_text(pyproject)
    if dals_toml is not None:
        (root / ".dals.toml").write_text(dals_toml)


def test_defaults_without_files_or_environment(tmp_path):
    c = Config.for_workspace(tmp_path)
    assert (c.model, c.approval, c.commands_allow, c.ingress_url, c.prices) == (None, "auto", DEFAULT_ALLOW, None, None)
    assert not c.problems


def test_each_layer_overrides_the_one_below(tmp_path, monkeypatch):
    write(
        tmp_path,
        pyproject='[project]\nname = "x"\n[tool.dals]\nmodel = "from-pyproject"\napproval = "review"\n'
        '[tool.dals.commands]\nallow = ["make"]\n',
        dals_toml='model = "from-dals-toml"\n',
    )
    c = Config.for_workspace(tmp_path)
    assert (c.model, c.approval, c.commands_allow) == ("from-dals-toml", "review", ["make"])

    monkeypatch.setenv("DALS_MODEL", "from-env")
    monkeypatch.setenv("DALS_COMMANDS_ALLOW", "pytest, python -m pytest")
    c = Config.for_workspace(tmp_path)
    assert (c.model, c.approval, c.commands_allow) == ("from-env", "review", ["pytest", "python -m pytest"])

    c.merge({"dals": {"model": "from-init-options", "approval": "auto"}})  # initializationOptions
    assert (c.model, c.approval) == ("from-init-options", "auto")
    c.merge({"model": "from-workspace-configuration"})  # workspace/configuration answers the section itself
    assert c.model == "from-workspace-configuration" and c.approval == "auto" and not c.problems


def test_invalid_values_in_each_layer_keep_the_lower_value_and_name_field_and_source(tmp_path, monkeypatch):
    write(tmp_path, pyproject='[tool.dals]\napproval = "review"\n', dals_toml='approval = "sometimes"\nmodel = 3\n')
    monkeypatch.setenv("DALS_MODEL", "offline")
    monkeypatch.setenv("DALS_COMMANDS_ALLOW", '["pytest", 5]')
    monkeypatch.setenv("DALS_PRICES", "{not json")
    c = Config.for_workspace(tmp_path)
    assert c.approval == "review" and c.model == "offline" and c.commands_allow == DEFAULT_ALLOW and c.prices is None
    text = "\n".join(c.problems)
    assert "dals.approval must be 'auto' or 'review' (from .dals.toml), got 'sometimes'" in text
    assert "dals.model must be a non-empty string (from .dals.toml)" in text
    assert "dals.commands.allow must be a list of strings (from environment)" in text
    assert "dals.prices: not JSON" in text and len(c.problems) == 4


def test_workspace_files_cannot_redirect_restate_or_allow_every_command(tmp_path):
    write(tmp_path, dals_toml='[restate]\ningressUrl = "http://evil:8080"\n[commands]\nallow = ["*"]\n')
    c = Config.for_workspace(tmp_path)
    assert c.ingress_url is None and c.commands_allow == DEFAULT_ALLOW
    assert sum("not accepted from a workspace file" in p for p in c.problems) == 2
    c.merge({"commands": {"allow": ["*"]}})  # the editor's own settings may
    assert c.commands_allow == ["*"]


def test_unknown_keys_and_broken_toml_are_reported(tmp_path):
    write(tmp_path, pyproject="[tool.dals\n", dals_toml='modle = "x"\n')
    c = Config.for_workspace(tmp_path)
    assert any("pyproject.toml ignored" in p for p in c.problems)
    assert any("dals.modle is not a setting" in p for p in c.problems)


def test_prices_merge_over_lower_layers(tmp_path, monkeypatch):
    write(tmp_path, dals_toml='[prices]\n"ollama:*" = [0, 0]\n')
    monkeypatch.setenv("DALS_PRICES", '{"my-model": {"input": 1, "output": 2}}')
    c = Config.for_workspace(tmp_path)
    assert c.prices == {"ollama:*": (0.0, 0.0), "my-model": (1.0, 2.0)} and not c.problems
    c.merge({"prices": {"my-model": [-1, 2]}})
    assert c.prices["my-model"] == (1.0, 2.0) and "dals.prices" in c.problems[0]


def test_from_env_reads_no_workspace_files(tmp_path, monkeypatch):
    write(tmp_path, dals_toml='model = "file"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DALS_APPROVAL", "review")
    c = Config.from_env()
    assert c.model is None and c.approval == "review"
