"""The chaos tier gets its own runtime: its tests kill processes for real."""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def runtime_on(double: OpenAIDouble, **env: str):
    """A runtime of its own (temporary state dir) whose model is `double`; `env` added."""
    state = Path(tempfile.mkdtemp(prefix="dals-chaos-state-"))
    rt = Runtime(
        state,
        {"OPENAI_BASE_URL": double.base_url, "OPENAI_API_KEY": "test-key", "DALS_MODEL": "openai-chat:double", **env},
    )
    try:
        rt.up()
        yield rt
    finally:
        rt.down()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def chaos_runtime(chaos_double):
    with runtime_on(chaos_double) as rt:
        yield rt
