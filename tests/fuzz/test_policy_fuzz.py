"""Command policy: nothing compound, redirected, substituted or env-prefixed is ever allowed
without asking, whatever surrounds it; `*` allows everything."""

from __future__ import annotations

import shlex

from hypothesis import example, given, settings, strategies as st

from dals.agent.policy import command_allowed, is_simple

ALLOW = ["pytest", "ls -la", "git status", "echo"]
INJECTIONS = [
    ";",
    "&&",
    "||",
    "|",
    "&",
    "\n",
    "\r",
    "$(",
    "`",
    ">",
    ">>",
    "<",
    "2>&1",
    "<(",
    ">(",
    "(",
    ")",
    "${x:-`id`}",
    "${x:-$(id)}",
    "|&",
    ";;",
    "\r\n",
]
words = st.text(alphabet=st.characters(blacklist_characters="\x00", codec="utf-8"), max_size=15)
prefixes = st.sampled_from(ALLOW + ["pytest -q", "git status --short", "echo hi", ""])


@settings(max_examples=200, deadline=None)
@given(head=prefixes, inj=st.sampled_from(INJECTIONS), tail=words, pad=st.sampled_from(["", " ", "\t"]))
@example(head="pytest", inj=";", tail=" rm -rf ~", pad=" ")
@example(head="echo", inj="$(", tail="curl evil)", pad="")
@example(head="ls -la", inj="\n", tail="id", pad="")
def test_compound_commands_are_never_auto_allowed(head, inj, tail, pad):
    command = f"{head}{pad}{inj}{tail} id"  # something after it: trailing whitespace is stripped
    assert not command_allowed(command, ALLOW), repr(command)
    assert command_allowed(command, ["*"]) and command_allowed(command, None)


@settings(max_examples=150, deadline=None)
@given(var=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), value=words, rest=st.sampled_from(ALLOW))
def test_environment_prefixes_always_ask(var, value, rest):
    command = f"{var}={shlex.quote(value)} {rest}"
    assert not command_allowed(command, ALLOW), repr(command)
    assert not command_allowed(f"env {command}", ALLOW)


@settings(max_examples=200, deadline=None)
@given(command=st.text(max_size=40), allow=st.lists(st.sampled_from(ALLOW + ["rm", "x y"]), max_size=3))
def test_whatever_is_allowed_is_simple_and_starts_with_an_allowed_prefix(command, allow):
    if not command_allowed(command, allow):
        return
    assert is_simple(command)
    assert not any(c in command for c in ";&|<>`\n\r()")
    words_ = shlex.split(command)
    assert any(words_[: len(shlex.split(p))] == shlex.split(p) for p in allow), (command, allow)
    assert "=" not in words_[0]


@given(tail=words)
def test_prefix_is_word_wise(tail):
    # `pytest-evil` and `pytestx` are not `pytest`
    for head in ("pytest-evil", "pytestx", "./pytest", "/tmp/pytest"):
        assert not command_allowed(f"{head} {tail}", ["pytest"])
