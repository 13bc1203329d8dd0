"""DALS: the Durable Agent Language Server."""

# The one place the version is written: pyproject.toml reads it (setuptools `attr`), `dals lsp`
# reports it, and a test checks the editor clients' manifests against it.
__version__ = "0.1.0"

from .client import httpx_compat as _httpx_compat  # noqa: E402 - after the version, which setuptools reads

_httpx_compat.skip_cli()  # before anything imports httpx: see the module
