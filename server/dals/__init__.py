"""DALS: the Durable Agent Language Server."""
from .client import httpx_compat as _httpx_compat

_httpx_compat.skip_cli()  # before anything imports httpx: see the module
