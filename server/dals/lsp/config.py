"""The `dals` settings of one editor session: from initializationOptions, then
`workspace/configuration` (section `dals`), over the process environment."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import settings as env_settings

DEFAULT_ALLOW = ["pytest", "python -m pytest", "ruff", "mypy", "npm test", "git status", "git diff", "git log"]


@dataclass
class Config:
    model: str | None = None
    """pydantic-ai model string or `offline`; default `DALS_MODEL`."""
    ingress_url: str | None = None
    """An existing Restate's ingress URL; default: the embedded runtime."""
    admin_url: str | None = None
    """An existing Restate's admin URL (set together with ingress_url)."""
    approval: str = "auto"
    """Default task mode: `auto` or `review`."""
    commands_allow: list[str] = field(default_factory=lambda: list(DEFAULT_ALLOW))
    """Command prefixes that run without asking."""
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_env(cls) -> "Config":
        ext = None
        try:
            ext = env_settings.external_restate()
        except SystemExit as e:
            c = cls(model=env_settings.default_model())
            c.problems.append(str(e))
            return c
        return cls(model=env_settings.default_model(), ingress_url=ext.ingress_url if ext else None,
                   admin_url=ext.admin_url if ext else None)

    def merge(self, raw: Any) -> None:
        """Apply a settings object (`{"dals": {...}}` or the section itself); bad values are
        reported in `problems` and ignored."""
        if not isinstance(raw, dict):
            return
        section = raw.get("dals", raw) if isinstance(raw.get("dals"), dict) else raw
        flat = _flatten(section)
        for key, value in flat.items():
            if value is None:
                continue
            if key == "model":
                self._set_str("model", key, value)
            elif key in ("restate.ingressUrl", "restate.adminUrl"):
                attr = "ingress_url" if key.endswith("ingressUrl") else "admin_url"
                if isinstance(value, str) and value.startswith(("http://", "https://")):
                    setattr(self, attr, value.rstrip("/"))
                elif value != "":
                    self.problems.append(f"dals.{key} must be an http(s) URL, got {value!r}")
            elif key == "approval":
                if value in ("auto", "review"):
                    self.approval = value
                else:
                    self.problems.append(f"dals.approval must be 'auto' or 'review', got {value!r}")
            elif key == "commands.allow":
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    self.commands_allow = list(value)
                else:
                    self.problems.append("dals.commands.allow must be a list of strings")

    def _set_str(self, attr: str, key: str, value: Any) -> None:
        if isinstance(value, str) and value.strip():
            setattr(self, attr, value.strip())
        elif value != "":
            self.problems.append(f"dals.{key} must be a non-empty string, got {value!r}")


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key in ("restate", "commands"):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out
