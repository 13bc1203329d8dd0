"""`DALS_RESTATE_PARTITIONS`: the setting, and the embedded Restate server's config it goes into."""

from __future__ import annotations

import tomllib

import pytest

from dals.config.settings import current, restate_partitions, runtime_setting_problems
from dals.runtime import restate_config
from dals.runtime.layout import Layout


def config(tmp_path) -> dict:
    return tomllib.loads(restate_config.render(Layout(tmp_path)))


def test_one_partition_by_default(monkeypatch, tmp_path):
    monkeypatch.delenv("DALS_RESTATE_PARTITIONS", raising=False)
    assert restate_partitions() == 1
    assert config(tmp_path)["default-num-partitions"] == 1


@pytest.mark.parametrize("value, expected", [("1", 1), ("4", 4), (" 64 ", 64)])
def test_the_setting_goes_into_the_config(monkeypatch, tmp_path, value, expected):
    monkeypatch.setenv("DALS_RESTATE_PARTITIONS", value)
    assert restate_partitions() == expected
    got = config(tmp_path)
    assert got["default-num-partitions"] == expected
    assert got["listen-mode"] == "unix" and "ingress" not in got  # no TCP listener (docs/security.md)


@pytest.mark.parametrize("value", ["0", "65", "four", "-1", "2.5"])
def test_a_bad_value_is_said_and_the_default_used(monkeypatch, tmp_path, value):
    monkeypatch.setenv("DALS_RESTATE_PARTITIONS", value)
    assert restate_partitions() == 1
    problem = str(current().problem("DALS_RESTATE_PARTITIONS"))
    assert problem == f"DALS_RESTATE_PARTITIONS={value!r} is not a whole number from 1 to 64; using 1"
    assert problem in runtime_setting_problems()  # said by `dals up`, warned about by `dals doctor`
    assert config(tmp_path)["default-num-partitions"] == 1
