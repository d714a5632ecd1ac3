"""Exercise checks: pass your answer, get a friendly verdict and True or False.

Each lesson has a module of checks (``from mqlab.checks import lesson00 as check``). A check
takes the student's answer as an argument — a value or a function — and never looks at the
caller's variables. An answer left as ``None`` or ``...`` (the starter) is "not attempted
yet", so a notebook with unfinished exercises still runs from top to bottom.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

__all__ = ["Verdict", "call_student", "code_objects", "not_a_function", "not_attempted",
           "short", "top_level_bar", "unanchored", "verdict"]


class Verdict:
    """The result of a check: prints as a short message, is truthy when the answer is right."""

    def __init__(self, ok: bool | None, message: str) -> None:
        self.ok, self.message = ok, message

    def __bool__(self) -> bool:
        return bool(self.ok)

    def __repr__(self) -> str:
        mark = {True: "✅ Correct!", False: "❌ Not yet.", None: "⏳ Not attempted yet."}[self.ok]
        return f"{mark} {self.message}".rstrip()


def not_attempted(answer: Any) -> bool:
    """True for the starter answers ``None`` and ``...``.

    A check that takes a function calls it first and passes what it returned here too, so a
    starter function that returns None also counts as not attempted.
    """
    return answer is None or answer is Ellipsis


def verdict(ok: bool, good: str, hint: str) -> Verdict:
    """A Verdict with the praise for a right answer or the hint for a wrong one."""
    return Verdict(True, good) if ok else Verdict(False, hint)


def call_student(fn: Callable, *args: Any) -> tuple[Any, Verdict | None]:
    """Call a student's function: ``(result, None)``, or ``(None, verdict)`` if it raised.

    Test the second item with ``is not None``: the Verdict it carries is falsy.
    """
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001 - any mistake in the answer is reported, not raised
        return None, Verdict(False, f"Your function raised {type(exc).__name__}: {exc}")


def code_objects(fn: Any) -> list[types.CodeType]:
    """The code of function ``fn`` and of every function and lambda written inside it: where
    a check looks for what an answer uses. Empty for something without code (a builtin)."""
    code = getattr(fn, "__code__", None)
    found, todo = [], [code] if isinstance(code, types.CodeType) else []
    while todo:
        code = todo.pop()
        found.append(code)
        todo += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return found


def short(value: Any) -> str:
    """``repr(value)``, cut to 60 characters: how a verdict quotes an answer."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def not_a_function(answer: Any, name: str, ex: str) -> Verdict:
    """The verdict for a check given what the student's function returned, not the function."""
    return Verdict(False, f"Pass the function itself, without calling it: check.{ex}({name}), "
                          f"not check.{ex}({name}(...)). You passed {short(answer)}.")


def top_level_bar(pattern: str) -> bool:
    """Does regular expression ``pattern`` have a ``|`` outside every group? Then it splits
    the whole pattern: ``^a|b$`` is ``^a`` or ``b$``, a classic slip in a permission.

    >>> top_level_bar("^a|b$"), top_level_bar("^(a|b)$"), top_level_bar(r"^a\\|b$")
    (True, False, False)
    """
    depth, escaped = 0, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
    return False


def unanchored(label: str, pattern: str, permitted: str) -> str | None:
    """The hint for a permission ``pattern`` with neither ^ nor $ (RabbitMQ searches a pattern
    anywhere in a name), the first thing to say about it, or None if it has an anchor.
    ``label`` names the pattern in the hint; ``permitted`` is a name it wrongly lets through.

    >>> unanchored("The pattern 'a|b'", "a|b", "xa") is not None, unanchored("^a$", "^a$", "")
    (True, None)
    """
    if "^" in pattern or "$" in pattern:
        return None
    group = (", with the alternatives in a group: ^(a|b)$ (a | outside a group splits the "
             "whole pattern)") if top_level_bar(pattern) else ""
    return (f"{label} has no anchors, so it also permits {permitted!r}: RabbitMQ searches the "
            f"pattern anywhere in the name, it does not match the whole name. Anchor it: ^ at "
            f"its start and $ at its end{group}.")
