"""The chaos tier gets its own runtime: its tests kill processes for real."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support.openai_double import OpenAIDouble
from tests.support.runtime import Runtime


@pytest.fixture(scope="module")
def chaos_double():
    with OpenAIDouble(model="double") as double:
        yield double


@pytest.fixture(scope="module")
def chaos_runtime(chaos_double):
    state = Path(tempfile.mkdtemp(prefix="dals-chaos-state-"))
    rt = Runtime(state, {"OPENAI_BASE_URL": chaos_double.base_url, "OPENAI_API_KEY": "test-key",
                         "DALS_MODEL": "openai-chat:double"})
    rt.up()
    yield rt
    rt.down()
    shutil.rmtree(state, ignore_errors=True)
