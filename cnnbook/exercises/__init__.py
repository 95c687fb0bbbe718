"""Checking a reader's answers to the exercises at the end of each chapter.

Generic checkers live here; each chapter's own checkers (which compute the expected answer with the
package, out of the reader's sight) live in a module per chapter, e.g. ``cnnbook.exercises.ch01``.

A chapter calls ``check(answer, expected)`` with the expected value computed by the package, so the
checker can never drift from what the book teaches. ``answer`` left as ``None`` means "not tried yet".
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Set
from typing import Any

import torch

from cnnbook.i18n import localise


def say(name: str, message: str, hint: str = "", **values: Any) -> None:
    """Print a verdict, ``name: message [Hint: hint]``, in the reader's language (``cnnbook.use_language``).

    ``message`` is a format string filled with ``values`` after it is translated, so an answer of any shape can be
    shown in a translated sentence; the name and the hint are translated as they are.
    """
    line = f"{localise(name)}: {localise(message).format(**values)}"
    if hint:
        line += f" {localise('Hint:')} {localise(hint)}"
    print(line)


def _same(answer: Any, expected: Any, rel_tol: float, abs_tol: float) -> bool:
    if isinstance(expected, torch.Tensor):
        answer = torch.as_tensor(answer, dtype=expected.dtype)
        return answer.shape == expected.shape and torch.allclose(answer, expected, rtol=rel_tol, atol=abs_tol)
    if isinstance(expected, (tuple, list)):
        return (
            isinstance(answer, (tuple, list))
            and len(answer) == len(expected)
            and all(_same(a, e, rel_tol, abs_tol) for a, e in zip(answer, expected))
        )
    if isinstance(expected, bool) or isinstance(expected, str):
        return answer == expected
    if isinstance(expected, (int, float)):
        return isinstance(answer, (int, float)) and math.isclose(answer, expected, rel_tol=rel_tol, abs_tol=abs_tol)
    return answer == expected


def check(answer: Any, expected: Any, name: str = "answer", rel_tol: float = 1e-6, abs_tol: float = 1e-9,
          hint: str = "") -> bool:
    """Print whether ``answer`` matches ``expected`` (numbers within tolerance, tensors by allclose)."""
    if answer is None:
        say(name, "not answered yet.")
        return False
    if _same(answer, expected, rel_tol, abs_tol):
        say(name, "correct.")
        return True
    say(name, "not quite (got {got}).", hint, got=repr(answer))
    return False


def check_function(fn: Callable | None, reference: Callable, cases: list[tuple], name: str = "function",
                   rel_tol: float = 1e-5, abs_tol: float = 1e-6) -> bool:
    """Call the reader's ``fn`` and the package's ``reference`` on each argument tuple and compare."""
    if fn is None:
        say(name, "not answered yet.")
        return False
    for args in cases:
        expected = reference(*args)
        try:
            got = fn(*args)
        except Exception as err:  # the reader's code failing is an answer, not a crash of the checker
            say(name, "raised {error} for arguments {args}.", error=f"{type(err).__name__}: {err}", args=repr(args))
            return False
        if not _same(got, expected, rel_tol, abs_tol):
            shown = tuple(getattr(a, "shape", a) for a in args)
            say(name, "wrong result for arguments {args}.", args=repr(shown))
            return False
    say(name, "correct on all {n} cases.", n=len(cases))
    return True


def check_range(answer: Any, low: float, high: float, name: str, quantity: str, source: str = "run",
                hint: str = "") -> bool:
    """Accept a measured number in [low, high], the range that ``source`` (a run, a measurement) lands in.

    ``quantity`` names what the number is ("the test accuracy"); it must lie between 0 and 1.
    """
    if answer is None:
        say(name, "not answered yet.")
        return False
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real) or not 0 <= answer <= 1:
        say(name, "give {quantity} as a number between 0 and 1, got {got}.", quantity=localise(quantity), got=repr(answer))
        return False
    answer = float(answer)  # a Fraction or a NumPy number is a fine answer too
    if low <= answer <= high:
        say(name, "correct: {answer:.3f} is in the range {low:.2f}-{high:.2f} this {source} lands in.", answer=answer, low=low,
            high=high, source=localise(source))
        return True
    say(name, "not quite ({got} is outside {low:.2f}-{high:.2f}).", hint, got=repr(answer), low=low, high=high)
    return False


def check_letters(answer: Any, options: Mapping[str, str], expected: Set[str], name: str, hint: str = "") -> bool:
    """Accept the set of letters ``expected`` among ``options`` (a letter: its text); one letter may come as a str."""
    if answer is None:
        return check(None, None, name=name)
    if isinstance(answer, str):
        answer = {answer}
    if not isinstance(answer, (set, frozenset, list, tuple)) or not all(isinstance(x, str) for x in answer):
        say(name, "give a set of letters such as {example}, got {got}.", example='{"a", "c"}', got=repr(answer))
        return False
    letters = {x.lower() for x in answer}
    unknown = letters - set(options)
    if unknown:
        say(name, "choose among {options}, got {got}.", options=sorted(options), got=sorted(unknown))
        return False
    return check(letters, set(expected), name=name, hint=hint)

