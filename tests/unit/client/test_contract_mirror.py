"""editor-clients/vscode/src/protocol.ts mirrors dals.client.contract: the same payload names, each
with the same fields, optional on one side exactly when optional on the other; the same literals."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from dals.client import contract
from dals.lsp import protocol

PROTOCOL_TS = Path(__file__).parents[3] / "editor-clients" / "vscode" / "src" / "protocol.ts"
INTERFACE = re.compile(r"^export interface (\w+)(?: extends (\w+))? \{([^{}]*)\}", re.M)
FIELD = re.compile(r"^\s*(\w+)(\??):", re.M)
TYPE_ALIAS = re.compile(r"^export type (\w+) = ((?:'[^']*'\s*\|?\s*)+);", re.M)
BASES = {"Args"}  # pydantic configuration, no payload of its own


def _strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)


def ts_interfaces(text: str) -> dict[str, dict[str, bool]]:
    """Interface name -> {field: optional}, fields of the interface it extends included."""
    text = _strip_comments(text)
    raw: dict[str, tuple[str | None, dict[str, bool]]] = {}
    for name, base, body in INTERFACE.findall(text):
        fields = {f: bool(opt) for f, opt in FIELD.findall(body.replace(";", ";\n"))}
        raw[name] = (base or None, fields)

    def resolve(name: str) -> dict[str, bool]:
        base, fields = raw[name]
        return {**(resolve(base) if base else {}), **fields}

    return {name: resolve(name) for name in raw}


def py_payloads() -> dict[str, dict[str, bool]]:
    out: dict[str, dict[str, bool]] = {}
    for name, value in vars(contract).items():
        if name in BASES or not isinstance(value, type) or value.__module__ != contract.__name__:
            continue
        if issubclass(value, BaseModel):
            out[name] = {f: not info.is_required() for f, info in value.model_fields.items()}
        elif typing.is_typeddict(value):
            out[name] = {f: f in value.__optional_keys__ for f in value.__annotations__}
    return out


def test_the_parser_reads_protocol_ts():
    parsed = ts_interfaces(
        "export interface A { x: number; y?: string | null }\n"
        "/** doc */\nexport interface B extends A {\n    // c\n    z: T[];\n}\n"
    )
    assert parsed == {"A": {"x": False, "y": True}, "B": {"x": False, "y": True, "z": False}}


def test_every_payload_has_its_mirror_and_no_other():
    ts = ts_interfaces(PROTOCOL_TS.read_text())
    py = py_payloads()
    assert len(py) > 20  # the contract was read
    assert sorted(set(py) - set(ts)) == [], "in contract.py, not in protocol.ts"
    assert sorted(set(ts) - set(py)) == [], "in protocol.ts, not in contract.py"


@pytest.mark.parametrize("name", sorted(py_payloads()))
def test_fields_and_optionality_agree(name):
    ts = ts_interfaces(PROTOCOL_TS.read_text())[name]
    assert ts == py_payloads()[name]


def test_literals_agree():
    text = _strip_comments(PROTOCOL_TS.read_text())
    aliases = {name: set(re.findall(r"'([^']*)'", values)) for name, values in TYPE_ALIAS.findall(text)}
    statuses = re.search(r"export const STATUSES = \[(.*?)\]", text, re.S)
    assert statuses
    aliases["Status"] = set(re.findall(r"'([^']*)'", statuses.group(1)))
    for name in ("Status", "EventKind", "Mode", "Decision"):
        assert aliases[name] == set(typing.get_args(getattr(contract, name))), name


def test_method_names_agree():
    text = PROTOCOL_TS.read_text()
    commands = set(re.findall(r"^\s+\w+: '(dals\.\w+)',$", text, re.M))
    assert commands == set(protocol.COMMANDS)
    for const in ("TASK_EVENT", "TASK_DELTA", "EDITOR_DIAGNOSTICS"):
        assert f"export const {const} = '{getattr(protocol, const)}';" in text
