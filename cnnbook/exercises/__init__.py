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
        print(f"{name}: not answered yet.")
        return False
    if _same(answer, expected, rel_tol, abs_tol):
        print(f"{name}: correct.")
        return True
    print(f"{name}: not quite (got {answer!r})." + (f" Hint: {hint}" if hint else ""))
    return False


def check_function(fn: Callable | None, reference: Callable, cases: list[tuple], name: str = "function",
                   rel_tol: float = 1e-5, abs_tol: float = 1e-6) -> bool:
    """Call the reader's ``fn`` and the package's ``reference`` on each argument tuple and compare."""
    if fn is None:
        print(f"{name}: not answered yet.")
        return False
    for args in cases:
        expected = reference(*args)
        try:
            got = fn(*args)
        except Exception as err:  # the reader's code failing is an answer, not a crash of the checker
            print(f"{name}: raised {type(err).__name__}: {err} for arguments {args!r}.")
            return False
        if not _same(got, expected, rel_tol, abs_tol):
            shown = tuple(getattr(a, "shape", a) for a in args)
            print(f"{name}: wrong result for arguments {shown!r}.")
            return False
    print(f"{name}: correct on all {len(cases)} cases.")
    return True


def check_range(answer: Any, low: float, high: float, name: str, quantity: str, source: str = "run",
                hint: str = "") -> bool:
    """Accept a measured number in [low, high], the range that ``source`` (a run, a measurement) lands in.

    ``quantity`` names what the number is ("the test accuracy"); it must lie between 0 and 1.
    """
    if answer is None:
        print(f"{name}: not answered yet.")
        return False
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real) or not 0 <= answer <= 1:
        print(f"{name}: give {quantity} as a number between 0 and 1, got {answer!r}.")
        return False
    answer = float(answer)  # a Fraction or a NumPy number is a fine answer too
    if low <= answer <= high:
        print(f"{name}: correct: {answer:.3f} is in the range {low:.2f}-{high:.2f} this {source} lands in.")
        return True
    print(f"{name}: not quite ({answer!r} is outside {low:.2f}-{high:.2f})." + (f" Hint: {hint}" if hint else ""))
    return False


def check_letters(answer: Any, options: Mapping[str, str], expected: Set[str], name: str, hint: str = "") -> bool:
    """Accept the set of letters ``expected`` among ``options`` (a letter: its text); one letter may come as a str."""
    if answer is None:
        return check(None, None, name=name)
    if isinstance(answer, str):
        answer = {answer}
    if not isinstance(answer, (set, frozenset, list, tuple)) or not all(isinstance(x, str) for x in answer):
        print(f"{name}: give a set of letters such as {{\"a\", \"c\"}}, got {answer!r}.")
        return False
    letters = {x.lower() for x in answer}
    unknown = letters - set(options)
    if unknown:
        print(f"{name}: choose among {sorted(options)}, got {sorted(unknown)}.")
        return False
    return check(letters, set(expected), name=name, hint=hint)

