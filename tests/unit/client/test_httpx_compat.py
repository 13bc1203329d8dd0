"""httpx_compat: `import dals` keeps httpx's CLI out of the process; httpx still works, and the
upstream behaviour this relies on (an optional, try/except-guarded import of `httpx._main`) holds."""

from __future__ import annotations

import inspect
import subprocess
import sys

from dals.client import httpx_compat


def test_upstream_imports_its_cli_optionally():
    import httpx

    source = inspect.getsource(httpx)
    assert "from ._main import main" in source
    guarded = source.split("from ._main import main")[0].rstrip().endswith("try:")
    assert guarded and "except ImportError" in source, "httpx no longer guards its CLI import"
    assert httpx.__version__.startswith(httpx_compat.WRITTEN_FOR), httpx.__version__
    assert httpx_compat._version() == httpx.__version__


def test_import_dals_keeps_the_cli_out_and_httpx_works():
    code = (
        "import sys, dals, httpx; "
        "assert sys.modules['httpx._main'] is None and 'rich' not in sys.modules and 'click' not in sys.modules; "
        "assert callable(httpx.main); "
        "r = httpx.Client(transport=httpx.MockTransport(lambda q: httpx.Response(200, json={'ok': 1}))).get('http://x/'); "
        "assert r.json() == {'ok': 1}"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_nothing_is_done_once_httpx_is_loaded():
    import httpx  # noqa: F401

    assert httpx_compat.skip_cli() is False
