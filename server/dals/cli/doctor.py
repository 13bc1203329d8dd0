"""`dals doctor`: is everything a task needs in place? One line per check, each with what to do.

Checks, without starting anything: the state dir, the Restate server (binary or external), the
runtime and its worker, the kept ports, the settings, the model and its provider's key (its
presence, never its value), whether the provider's base URL answers, the MCP servers (each
started and asked for its tools: `mcp_doctor.py`), and tasks stuck on a failure that no retry can
fix (a journal mismatch, a serialization error: `client/failures.py`). Exit 1 when something
blocks tasks (a FAIL), else 0.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from unittest import mock

import httpx

from ..agent.models import HOW_TO_SET, OFFLINE, ModelConfigError, resolve_model
from ..agent.providers import base_url, key_hint, key_present, provider_of, redact, split
from ..client.failures import describe as describe_failure
from ..client.pricing import PriceError, parse_prices
from ..config import env_vars
from ..config.settings import external_restate, runtime_setting_problems, state_dir
from ..local.endpoints import get_status, sync_client
from ..lsp.config import Config
from ..runtime.layout import Layout, port_is_free
from ..runtime.restate_binary import find_restate_server
from .mcp_doctor import check_mcp

HTTP_TIMEOUT = 3.0


@dataclass
class Check:
    name: str
    level: str  # ok | warn | FAIL
    message: str
    fix: str | None = None

    def line(self) -> str:
        return f"{self.level:<5} {self.name:<9} {self.message}" + (f" — {self.fix}" if self.fix else "")


def _get(url: str) -> int | str:
    """The HTTP status of GET url, or the reason it could not be reached."""
    try:
        return httpx.get(url, timeout=HTTP_TIMEOUT).status_code
    except httpx.HTTPError as e:
        return type(e).__name__ + (f": {e}" if str(e) else "")


def check_state_dir(root: Path) -> Check:
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        return Check(
            "state", "FAIL", f"{root} is not writable (checked {probe})", "set DALS_STATE_DIR to a writable directory"
        )
    if root.exists():
        try:
            with tempfile.NamedTemporaryFile(dir=root, prefix=".doctor-"):
                pass
        except OSError as e:
            return Check(
                "state", "FAIL", f"{root}: cannot write ({e.strerror})", "fix its permissions or set DALS_STATE_DIR"
            )
    return Check("state", "ok", f"{root}" + ("" if root.exists() else " (created on first `dals up`)"))


def check_restate() -> Check:
    try:
        ext = external_restate()
    except SystemExit as e:
        return Check("restate", "FAIL", str(e).removeprefix("dals: "), "set both variables, or neither")
    if ext:
        admin = get_status(ext.admin_url, "/health", HTTP_TIMEOUT)
        ingress = get_status(ext.ingress_url, "/restate/health", HTTP_TIMEOUT)
        if admin == 200 and ingress == 200:
            return Check("restate", "ok", f"external Restate answers at {ext.ingress_url} / {ext.admin_url}")
        return Check(
            "restate",
            "FAIL",
            f"external Restate not reachable (admin {ext.admin_url}: {admin}; ingress {ext.ingress_url}: {ingress})",
            "start it, or unset DALS_RESTATE_INGRESS_URL and DALS_RESTATE_ADMIN_URL to use the embedded one",
        )
    found = find_restate_server()
    if found:
        return Check("restate", "ok", f"restate-server binary {found}")
    if shutil.which("npm"):
        return Check(
            "restate",
            "warn",
            "restate-server not found; `dals up` will install it with npm (about 225 MB)",
            "or set DALS_RESTATE_SERVER_BIN, or point DALS at an external Restate",
        )
    return Check(
        "restate",
        "FAIL",
        "restate-server not found and npm is not installed",
        "install Node.js (npm), set DALS_RESTATE_SERVER_BIN, or set DALS_RESTATE_INGRESS_URL/ADMIN_URL",
    )


def check_runtime(lay: Layout) -> tuple[list[Check], dict | None]:
    """The runtime's health and the worker's registration; the status object when there is one."""
    from ..runtime import control

    if not lay.root.exists():
        return [Check("runtime", "warn", "not running", "`dals up` (or your editor's `dals lsp`) starts it")], None
    try:
        st = control.status(lay)
    except SystemExit:
        return [], None  # half-configured external Restate: reported by check_restate
    r, w = st["restate"], st["worker"]
    logs = st["logs"]
    if not st["supervisor"]["pid"] and not r["healthy"] and not w["healthy"]:
        return [Check("runtime", "warn", "not running", "`dals up` (or your editor's `dals lsp`) starts it")], st
    out = []
    if r["healthy"]:
        out.append(Check("runtime", "ok", f"Restate healthy (ingress {r['ingress']}, admin {r['admin']})"))
    elif not r["external"]:  # external: check_restate says it
        out.append(
            Check(
                "runtime",
                "FAIL",
                f"Restate server not healthy (pid {r['pid']}, admin {r['admin']})",
                f"read {logs}/restate.log, then `dals down && dals up`",
            )
        )
    if not w["healthy"]:
        out.append(
            Check(
                "worker",
                "FAIL",
                f"worker not healthy at {w['url']} (pid {w['pid']})",
                f"read {logs}/worker.log, then `dals down && dals up`",
            )
        )
    elif r["healthy"]:
        try:
            with sync_client(r["admin"], timeout=HTTP_TIMEOUT) as http:
                deployments = http.get("/deployments").json().get("deployments", [])
            uris = {str(d.get("uri", "")).rstrip("/") for d in deployments}
        except (httpx.HTTPError, OSError, ValueError, AttributeError):
            uris = set()
        if w["url"].rstrip("/") in uris:
            pids = ", ".join(str(p) for p in w.get("pids") or [w["pid"]])
            out.append(Check("worker", "ok", f"worker healthy and registered at {w['url']} (pid {pids})"))
        else:
            out.append(
                Check(
                    "worker",
                    "FAIL",
                    f"worker at {w['url']} is not registered with Restate",
                    "`dals down && dals up` registers it again",
                )
            )
    return out, st


STUCK_SQL = (
    "SELECT id, target_service_key, status, last_failure, last_failure_error_code FROM sys_invocation "
    "WHERE target_service_name = 'AgentTask' AND target_handler_name = 'run' "
    "AND status IN ('backing-off', 'paused')"
)


def _query(admin: str, sql: str) -> list[dict]:
    with sync_client(admin, timeout=HTTP_TIMEOUT) as http:
        reply = http.post("/query", json={"query": sql}, headers={"accept": "application/json"})
        reply.raise_for_status()
        return reply.json().get("rows", [])


def check_tasks(st: dict | None) -> list[Check]:
    """Tasks whose invocation fails the same way on every attempt (listed one per line)."""
    if not st or not st["restate"]["healthy"]:
        return []
    admin = st["restate"]["admin"]
    try:
        rows = _query(admin, STUCK_SQL)
        out = []
        for row in rows:
            text = row.get("last_failure")
            if not text:  # a paused invocation keeps its last error among its journal events
                events = _query(
                    admin,
                    "SELECT event_json FROM sys_journal_events WHERE id = '"
                    + str(row["id"]).replace("'", "''")
                    + "' AND event_type = 'TransientError' "
                    "ORDER BY appended_at DESC LIMIT 1",
                )
                event = json.loads(events[0]["event_json"]) if events else {}
                text = f"[{event.get('error_code')}] {event.get('error_message', '')}" if event else None
            failure = describe_failure(row.get("last_failure_error_code"), text)
            if failure:
                first_line = (failure["message"].splitlines() or [""])[0][:160]
                out.append(
                    Check(
                        "tasks",
                        "warn",
                        f"task {row['target_service_key']} is stuck: {failure['kind']} ({first_line})",
                        failure["fix"],
                    )
                )
    except (httpx.HTTPError, OSError, ValueError, KeyError, TypeError) as e:
        return [Check("tasks", "warn", f"could not list stuck tasks: {type(e).__name__}: {e}")]
    return out or [Check("tasks", "ok", "no task is stuck on a failure that retrying cannot fix")]


def check_ports(lay: Layout) -> list[Check]:
    kept = lay.kept_ports() if lay.root.exists() else None
    if kept is None:
        return [Check("ports", "ok", "none kept yet (free loopback ports are chosen on first start)")]
    data = lay.read_runtime()
    ours = {data.get("supervisor")} | {pid for _, pid in lay.child_pids()}
    out = []
    for name, port in asdict(kept).items():
        if port_is_free(port):
            continue
        owner = listener_pid(port)
        if owner is not None and owner in ours:
            continue
        who = f"pid {owner} ({_cmdline(owner)})" if owner else "another process"
        fix = (
            "tasks started before are pinned to the worker's URL: stop that process so they can resume; "
            "new tasks get a new port"
            if name == "worker"
            else "stop that process, or DALS picks a new port on its next start"
        )
        out.append(Check("ports", "warn", f"port {port} ({name}) kept in {lay.ports_file} is taken by {who}", fix))
    return out or [
        Check(
            "ports",
            "ok",
            "kept ports free or used by this runtime: " + ", ".join(f"{k} {v}" for k, v in asdict(kept).items()),
        )
    ]


def check_model(cfg: Config, worker_pid: int | None) -> list[Check]:
    model = cfg.model
    if not model:
        return [Check("model", "FAIL", "no model configured (DALS_MODEL, `dals.model`)", HOW_TO_SET)]
    if model == OFFLINE:
        return [Check("model", "ok", "offline (the built-in deterministic planner; no provider, no key)")]
    prefix = split(model)[0]
    provider = provider_of(model)
    worker_env = _proc_env(worker_pid)
    env = worker_env if worker_env is not None else dict(os.environ)
    whose = "the running worker's environment" if worker_env is not None else "this environment"
    out: list[Check] = []
    if provider and provider.key_vars:
        var = key_present(provider, env)
        custom = provider.base_url_var and env.get(provider.base_url_var)
        if var:
            out.append(Check("key", "ok", f"{var} is set in {whose}"))
        elif provider.key_optional_with_base_url and custom:
            out.append(
                Check(
                    "key",
                    "warn",
                    f"{key_hint(prefix)} is not set; fine for a local server at {custom} that checks no key",
                    f"set {provider.key_vars[0]} if it does",
                )
            )
        else:
            fix = (
                f"export {provider.key_vars[0]}=… where the runtime starts, then `dals down && dals up`"
                if worker_env is not None
                else f"export {provider.key_vars[0]}=… before `dals up` or starting your editor"
            )
            out.append(Check("key", "FAIL", f"{key_hint(prefix)} is not set in {whose}", fix))
    # The model string itself, with a placeholder for a missing key (the key is reported above).
    placeholders = {v: "doctor-placeholder" for v in (provider.key_vars if provider else ()) if not os.environ.get(v)}
    base_urls = {k: v for k, v in env.items() if k.endswith("_BASE_URL")}
    with mock.patch.dict(os.environ, {**base_urls, **placeholders}):
        try:
            resolve_model(model)
            out.insert(0, Check("model", "ok", f"{model} (pydantic-ai accepts it)"))
        except ModelConfigError as e:
            out.insert(0, Check("model", "FAIL", redact(str(e))[:400], "fix DALS_MODEL / `dals.model`; " + HOW_TO_SET))
    out.append(check_provider(model, env))
    return out


def check_provider(model: str, env: dict[str, str]) -> Check:
    provider = provider_of(model)
    if provider is None:
        return Check("provider", "warn", f"reachability not checked for provider {split(model)[0]!r}")
    url = base_url(provider, env)
    if not url:
        return Check("provider", "FAIL", f"no base URL for {provider.label}", f"set {provider.base_url_var}")
    got = _get(url)
    if isinstance(got, int):
        return Check("provider", "ok", f"{provider.label} at {url} answers (HTTP {got})")
    hint = (
        f"check {provider.base_url_var} and that the server runs"
        if provider.base_url_var and env.get(provider.base_url_var)
        else "check the network (proxy, firewall)"
    )
    return Check(
        "provider",
        "FAIL",
        f"{provider.label} at {url} not reachable: {got}"[:300],
        hint + "; tasks would retry, then pause",
    )


def check_settings(cfg: Config) -> list[Check]:
    out = [Check("settings", "warn", p, "fix or remove it; the default is used") for p in cfg.problems]
    raw = env_vars.raw("DALS_PRICES")
    if raw:
        try:
            parse_prices(raw)
        except PriceError as e:
            out.append(Check("settings", "warn", f"DALS_PRICES ignored: {e}", "fix the JSON"))
    for problem in runtime_setting_problems():
        out.append(Check("settings", "warn", problem, "fix it, then `dals down && dals up`"))
    return out


def run_checks(workspace: Path) -> list[Check]:
    root = state_dir()
    lay = Layout(root)
    checks = [check_state_dir(root), check_restate()]
    runtime, st = check_runtime(lay)
    checks += runtime + check_tasks(st) + check_ports(lay)
    cfg = Config.for_workspace(workspace)
    checks += check_settings(cfg)
    checks += check_model(cfg, (st or {}).get("worker", {}).get("pid"))
    checks += check_mcp(workspace, cfg, Check)
    return checks


def main(json_out: bool = False, workspace: str = ".") -> int:
    checks = run_checks(Path(workspace).resolve())
    failed = any(c.level == "FAIL" for c in checks)
    if json_out:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}))
    else:
        for c in checks:
            print(c.line())
        print("something blocks tasks: see FAIL above" if failed else "nothing blocks tasks", file=sys.stderr)
    return 1 if failed else 0


# --- /proc helpers (Linux); None when unknown ---------------------------------------------------


def listener_pid(port: int) -> int | None:
    """The pid of the process listening on 127.0.0.1/any :port, when this user can see it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{parts[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()[:80]
    except OSError:
        return "?"


def _proc_env(pid: int | None) -> dict[str, str] | None:
    """A running process's environment (used for variable names and base URLs; values of keys are
    never shown)."""
    if not pid:
        return None
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    pairs = (item.decode(errors="replace").split("=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k: v for k, v in pairs}
