"""Fixtures shared by every test tier: the model double and a real runtime per session."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support.openai_double import OpenAIDouble
from tests.support.runtime import Runtime

TESTS = Path(__file__).resolve().parent
# The tiers `make test` runs under forced replay (docs/development.md, "What `make test` runs").
REPLAYED_TIERS = ("e2e", "integration")


@pytest.hookimpl(tryfirst=True)  # before `-m` selects on the marks
def pytest_collection_modifyitems(config, items):
    """Mark every end-to-end and integration test `replayed`."""
    for item in items:
        path = item.path.resolve()
        if path.is_relative_to(TESTS) and path.relative_to(TESTS).parts[0] in REPLAYED_TIERS:
            item.add_marker(pytest.mark.replayed)


@pytest.fixture(scope="session")
def model_double():
    with OpenAIDouble() as double:
        yield double


@pytest.fixture(scope="session")
def runtime(model_double):
    """One real runtime (restate-server + worker) for the integration and e2e tiers."""
    state = Path(tempfile.mkdtemp(prefix="dals-test-state-"))
    extra = {"OPENAI_BASE_URL": model_double.base_url, "OPENAI_API_KEY": "test-key", "DALS_MODEL": "offline"}
    if os.environ.get("DALS_FORCE_REPLAY") == "1":  # `make test-replay`: replay after every step
        extra["DALS_FORCE_REPLAY"] = "1"
    rt = Runtime(state, extra)
    rt.up()
    yield rt
    rt.down()
    shutil.rmtree(state, ignore_errors=True)
