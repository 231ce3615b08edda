"""Symbolic equivalence of two LaTeX answers with sympy; runs inside a killable helper (rewards.timelimit).

Parsing is `latex2sympy2_extended` (the parser math-verify uses), not a hand-written one. The comparison is
strict where a careful grader is strict (interval ends, tuple order, exact values: 0.333 is not 1/3) and
lenient where notation differs but meaning does not (set order, equation scaling, `x = 5` vs `5`).
"""

from __future__ import annotations

import random

import sympy
from latex2sympy2_extended import latex2sympy
from sympy import Basic, Eq, FiniteSet, Interval, Matrix, Tuple, Union

RELATIVE_TOLERANCE = 1e-12  # numbers that differ by less than this, relative, are the same exact value
MAX_EXPONENT = 10_000  # 2^10000 is far beyond any competition answer; power towers are never evaluated


def _too_big(expr: Basic) -> bool:
    """Power towers and huge exponents/factorials: evaluating them would take hours (9^(9^(9^9)))."""
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow):
            exponent = node.exp
            if exponent.has(sympy.Pow) and exponent.is_number:
                return True
            if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
                return True
        if isinstance(node, sympy.factorial) and node.args[0].is_Number and node.args[0] > 1000:
            return True
    return False


def parse(latex: str) -> Basic | None:
    try:
        return latex2sympy(latex)
    except Exception:  # the parser raises many kinds; an unparsable answer is simply not equivalent
        return None


def _imaginary(expr: Basic) -> Basic:
    """Read the symbol `i` as the imaginary unit (MATH writes complex numbers as `3 + 4i`)."""
    i = sympy.Symbol("i")
    return expr.subs(i, sympy.I) if isinstance(expr, Basic) and i in expr.free_symbols else expr


def _numbers_equal(a: Basic, b: Basic) -> bool:
    try:
        va, vb = sympy.N(a, 50), sympy.N(b, 50)
        if not (va.is_number and vb.is_number):
            return False
        return bool(abs(va - vb) <= RELATIVE_TOLERANCE * max(1, abs(vb)))
    except (TypeError, ValueError):
        return False


def expressions_equal(a: Basic, b: Basic) -> bool:
    a, b = _imaginary(a), _imaginary(b)
    if a == b:
        return True
    if not a.free_symbols and not b.free_symbols:
        return _numbers_equal(a, b)
    if a.free_symbols != b.free_symbols:
        return False
    try:
        if sympy.simplify(a - b) == 0:
            return True
    except Exception:
        return False
    # simplify can miss identities; agreement at several random rational points is then the test
    # (two different rational functions agree at a random point with probability 0)
    rng = random.Random(0)
    symbols = sorted(a.free_symbols, key=str)
    for _ in range(6):
        point = {s: sympy.Rational(rng.randint(1, 97), rng.randint(1, 89)) for s in symbols}
        try:
            if not _numbers_equal(a.subs(point), b.subs(point)):
                return False
        except Exception:
            return False
    return True


def _matched(items_a: list, items_b: list) -> bool:
    """Every item of a equals a distinct item of b (unordered)."""
    if len(items_a) != len(items_b):
        return False
    remaining = list(items_b)
    for item in items_a:
        for j, other in enumerate(remaining):
            if equal(item, other):
                del remaining[j]
                break
        else:
            return False
    return True


def _equation_expr(eq: Eq) -> Basic:
    return eq.lhs - eq.rhs


def equations_equal(a: Eq, b: Eq) -> bool:
    """Same equation up to rearrangement and a nonzero constant factor: y = 2x + 1 and 2x - y + 1 = 0."""
    if isinstance(a.lhs, sympy.Symbol) and a.lhs == b.lhs and equal(a.rhs, b.rhs):
        return True
    ea, eb = _imaginary(_equation_expr(a)), _imaginary(_equation_expr(b))
    if not isinstance(ea, sympy.Expr) or not isinstance(eb, sympy.Expr) or eb == 0:
        return False
    try:
        ratio = sympy.simplify(ea / eb)
    except Exception:
        return False
    return ratio.is_number and ratio != 0 and ratio.is_finite is not False and not ratio.free_symbols


def equal(a: Basic, b: Basic) -> bool:
    """Structural dispatch: equations, sets, intervals, tuples, matrices, then plain expressions."""
    if isinstance(a, Eq) and isinstance(b, Eq):
        return equations_equal(a, b)
    if isinstance(a, Eq) and isinstance(a.lhs, sympy.Symbol):  # x = 5 against 5 (or x in [1, 2] against [1, 2])
        return equal(a.rhs, b)
    if isinstance(b, Eq) and isinstance(b.lhs, sympy.Symbol):
        return equal(a, b.rhs)
    if isinstance(a, Eq) or isinstance(b, Eq):
        return False
    if isinstance(a, FiniteSet) and isinstance(b, FiniteSet):
        return _matched(list(a), list(b))
    if isinstance(a, FiniteSet) and len(a) == 1 and not isinstance(b, (FiniteSet, Interval, Union)):
        return equal(next(iter(a)), b)
    if isinstance(b, FiniteSet) and len(b) == 1 and not isinstance(a, (FiniteSet, Interval, Union)):
        return equal(a, next(iter(b)))
    if isinstance(a, Interval) and isinstance(b, Interval):
        same_ends = (a.left_open, a.right_open) == (b.left_open, b.right_open)
        return same_ends and equal(a.start, b.start) and equal(a.end, b.end)
    if isinstance(a, Union) and isinstance(b, Union):
        return _matched(list(a.args), list(b.args))
    if isinstance(a, Tuple) and isinstance(b, Tuple):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, sympy.MatrixBase) and isinstance(b, sympy.MatrixBase):
        return a.shape == b.shape and all(equal(x, y) for x, y in zip(a, b, strict=True))
    kinds = (FiniteSet, Interval, Union, Tuple, Matrix, sympy.MatrixBase, sympy.Set)
    if isinstance(a, kinds) or isinstance(b, kinds):
        return a == b
    if isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr):
        return expressions_equal(a, b)
    return a == b


def equivalent(prediction: str, gold: str) -> bool:
    """Parse both LaTeX strings and compare them (the helper-process entry point)."""
    a, b = parse(prediction), parse(gold)
    if a is None or b is None:
        return False
    if _too_big(a) or _too_big(b):
        return a == b  # only the identical (unevaluated) expression can be trusted
    return bool(equal(a, b))
