"""HTTP access to Restate: ingress (call the task objects) and admin (deployments, SQL, invocations).

Used by the supervisor, the language server and the CLI alike. Knows URLs and JSON, not LSP.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from ..local.endpoints import async_client

RETRY_DELAYS = (0, 0.2, 0.5, 1.0, 2.0)  # about 3.7 s in all: a restarting server is back in ~0.5 s


def _transient(status: int, text: str) -> bool:
    text = text[:500].lower()
    return status in (502, 503) or any(
        s in text for s in ("partition", "unavailable", "not ready", "shut down", "removed")
    )


class RestateUnavailable(RuntimeError):
    """Restate could not be reached or answered with an error; the message says which and how."""


class RestateApi:
    def __init__(self, ingress_url: str, admin_url: str, timeout: float = 10.0):
        """`ingress_url` and `admin_url`: `http(s)://…` or `unix:/…sock` (see endpoints.py)."""
        self.ingress_url = ingress_url.rstrip("/")
        self.admin_url = admin_url.rstrip("/")
        # 20 kept alive: httpcore checks every pooled connection on each request (16 % of
        # `dals lsp`'s CPU while following 20 tasks with a pool of 100)
        limits = httpx.Limits(max_keepalive_connections=20, max_connections=100)
        self._ingress = async_client(self.ingress_url, timeout=timeout, limits=limits)
        self._admin = async_client(self.admin_url, timeout=timeout, limits=limits)

    async def aclose(self) -> None:
        await self._ingress.aclose()
        await self._admin.aclose()

    async def _request(self, http: httpx.AsyncClient, method: str, path: str, **kw) -> httpx.Response:
        """One request through httpx to the ingress or the admin API, with `_retrying`'s retries."""

        async def once() -> tuple[int, str, httpx.Response]:
            r = await http.request(method, path, **kw)
            return r.status_code, r.text if r.status_code >= 500 else "", r

        where = (self.ingress_url if http is self._ingress else self.admin_url) + path
        return await self._retrying(where, once)

    async def _retrying(self, url: str, once):
        """`once()` (-> status, text, result), retried for a few seconds while Restate is
        (re)starting: connection refused, or a 5xx such as "expecting a partition store" right
        after a restart. Every call made through here is safe to repeat (reads, idempotency-keyed
        sends, admin actions)."""
        last: Exception | None = None
        for delay in RETRY_DELAYS:
            if delay:
                await asyncio.sleep(delay)
            try:
                status, text, result = await once()
            except (httpx.TimeoutException, TimeoutError) as e:
                raise RestateUnavailable(f"Restate timed out at {url}: {type(e).__name__}") from e
            except httpx.HTTPError as e:
                last = e
                continue
            # the admin SQL answers 5xx for a moment after a restart ("expecting a partition store",
            # "node … was shut down or removed") although /health is already 200
            if status >= 500 and (url.endswith("/query") or _transient(status, text)):
                last = RestateUnavailable(f"{status} {text[:200]}")
                continue
            return result
        raise RestateUnavailable(f"Restate unreachable at {url}: {type(last).__name__} {last}".strip()) from last

    # --- health -----------------------------------------------------------------
    async def healthy(self) -> bool:
        try:
            a = await self._admin.get("/health", timeout=2.0)
            i = await self._ingress.get("/restate/health", timeout=2.0)
        except (httpx.HTTPError, OSError):
            return False
        return a.status_code == 200 and i.status_code == 200

    # --- admin ------------------------------------------------------------------
    async def register(self, worker_url: str) -> None:
        r = await self._request(
            self._admin, "POST", "/deployments", json={"uri": worker_url, "force": True}, timeout=30.0
        )
        if r.status_code not in (200, 201):
            raise RestateUnavailable(f"registering {worker_url} failed: {r.status_code} {r.text[:300]}")

    async def deployments(self) -> list[dict]:
        r = await self._request(self._admin, "GET", "/deployments")
        return r.json().get("deployments", []) if r.status_code == 200 else []

    async def query(self, sql: str) -> list[dict]:
        r = await self._request(
            self._admin, "POST", "/query", json={"query": sql}, headers={"accept": "application/json"}
        )
        if r.status_code != 200:
            raise RestateUnavailable(f"admin query failed: {r.status_code} {r.text[:300]}")
        return r.json().get("rows", [])

    async def invocation_action(self, invocation_id: str, action: str) -> int:
        """PATCH /invocations/{id}/{action} (pause, resume, cancel, kill, purge); returns the status code."""
        r = await self._request(self._admin, "PATCH", f"/invocations/{invocation_id}/{action}")
        return r.status_code

    # --- ingress ----------------------------------------------------------------
    async def send(self, service: str, key: str, handler: str, body: Any, idempotency_key: str | None = None) -> str:
        headers = {"content-type": "application/json"}
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key
        r = await self._request(
            self._ingress, "POST", f"/{service}/{key}/{handler}/send", content=json.dumps(body), headers=headers
        )
        if r.status_code not in (200, 202):
            raise RestateUnavailable(f"{service}/{handler} refused: {r.status_code} {r.text[:300]}")
        return r.json().get("invocationId", "")

    async def resolve_awakeable(self, awakeable_id: str, value: Any) -> None:
        r = await self._request(
            self._ingress,
            "POST",
            f"/restate/awakeables/{awakeable_id}/resolve",
            content=json.dumps(value),
            headers={"content-type": "application/json"},
        )
        if r.status_code not in (200, 202):
            raise RestateUnavailable(f"resolving {awakeable_id} failed: {r.status_code} {r.text[:300]}")

    async def call(self, service: str, key: str, handler: str, body: Any, timeout: float | None = None) -> Any:
        path = f"/{service}/{key}/{handler}"
        r = await self._request(
            self._ingress,
            "POST",
            path,
            content=json.dumps(body),
            headers={"content-type": "application/json"},
            timeout=timeout or 10.0,
        )
        status, data = r.status_code, r.content
        if status != 200:
            raise RestateUnavailable(f"{service}/{handler} failed: {status} {data[:300].decode(errors='replace')}")
        return json.loads(data) if data else None
