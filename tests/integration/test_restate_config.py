"""The embedded Restate server's config as restate-server itself reads it (`--dump-config`).

Restate ignores keys it does not know, so a misspelt or moved memory setting would silently cost
its memory again (bench/restate_settings.py measures what each saves)."""

from __future__ import annotations

import subprocess
import tomllib

import pytest

from dals.runtime import restate_config
from dals.runtime.layout import Layout
from dals.runtime.restate_binary import find_restate_server


def effective_config(tmp_path, env: dict[str, str] | None = None) -> dict:
    binary = find_restate_server()
    if binary is None:
        pytest.skip("restate-server not installed")
    restate_config.write(Layout(tmp_path))
    out = subprocess.run(
        [str(binary), "-c", str(Layout(tmp_path).restate_config), "--dump-config"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        cwd=tmp_path,
        env=env or {},
    )
    return tomllib.loads(out.stdout)


def test_restate_reads_the_memory_settings(tmp_path):
    got = effective_config(tmp_path)
    assert got["rocksdb-total-memory-size"] == "512.0 MiB"
    assert got["disable-prometheus"] is True
    assert got["log-server"]["rocksdb-memory-budget"] == "32.0 MiB"
    for section in (got["log-server"], got["worker"]["storage"], got["metadata-server"]):
        assert section["rocksdb-disable-statistics"] is True
    assert got["admin"]["query-engine"]["memory-size"] == "128.0 MiB"
    assert got["default-num-partitions"] == 1 and got["listen-mode"] == "unix"


def test_the_environment_still_overrides_them(tmp_path):
    # What docs/operations.md tells a user who wants Restate's /metrics back.
    got = effective_config(tmp_path, {"RESTATE_DISABLE_PROMETHEUS": "false"})
    assert got["disable-prometheus"] is False
