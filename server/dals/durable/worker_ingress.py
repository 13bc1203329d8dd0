"""The worker's own HTTP client to Restate's ingress (`DALS_INGRESS_URL`, set by the supervisor:
the state dir's unix socket, or an external Restate's URL), for calls made beside the journal
(replay counts) or inside a journaled step (a task's notes). One client per worker process: a new
one per call loaded the CA bundle (0.05-0.35 s of CPU) on the worker's event loop."""

from __future__ import annotations

from typing import Any

import httpx

from ..config import env_vars
from ..local import endpoints

_http: httpx.AsyncClient | None = None


def client() -> httpx.AsyncClient | None:
    """The process's client (relative URLs go to the ingress), or None when no ingress is set."""
    global _http
    ingress = env_vars.text("DALS_INGRESS_URL")
    if not ingress:
        return None
    if _http is None:
        _http = endpoints.async_client(ingress, timeout=10.0)
    return _http


async def call(service: str, key: str, handler: str, arg: Any) -> Any:
    """A request-response call of `service/key/handler` through the ingress, from inside a
    journaled step (no child invocation, which a cancel would reach at another point on replay)."""
    http = client()
    if http is None:
        raise RuntimeError(f"DALS_INGRESS_URL is not set: the worker cannot call {service}/{handler}")
    reply = await http.post(f"/{service}/{key}/{handler}", json=arg)
    reply.raise_for_status()
    return reply.json()
