"""sympy for the answers `rewards.math_parse` does not read: integrals, limits, `\\notin`, ellipses, ...

Parsing is `latex2sympy2_extended` (math-verify's parser) with evaluation turned off, so nothing is computed
before `too_big` has looked at the expression; the comparison is numeric at 50 digits, then `simplify`, and
the caller runs all of it under `rewards.timelimit.time_limit`. sympy is imported on first use only: most
answers never need it, and its import costs half a second.
"""

from __future__ import annotations

MAX_EXPONENT = 10_000
MAX_FACTORIAL_ARGUMENT = 2_000


def too_big(expr) -> bool:
    """Power towers, huge exponents or factorials: evaluating them would not finish (9^(9^(9^9)))."""
    import sympy

    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow):
            exponent = node.exp
            if exponent.has(sympy.Pow) and exponent.is_number:
                return True
            if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
                return True
        if isinstance(node, sympy.factorial) and node.args[0].is_Number and node.args[0] > MAX_FACTORIAL_ARGUMENT:
            return True
    return False


def parse(latex: str):
    """A sympy expression for `latex`, unevaluated, or None when latex2sympy cannot read it."""
    import sympy
    from latex2sympy2_extended import latex2sympy

    try:
        with sympy.evaluate(False):
            return latex2sympy(latex)
    except Exception:  # the parser raises many kinds; unreadable is simply not equivalent
        return None


def equivalent(prediction: str, gold: str) -> bool:
    """Do the two LaTeX answers denote the same number or expression? (False when either is unreadable.)"""
    import sympy

    a, b = parse(prediction), parse(gold)
    if a is None or b is None or not isinstance(a, sympy.Expr) or not isinstance(b, sympy.Expr):
        return False
    if too_big(a) or too_big(b):
        return a == b
    a, b = a.doit(), b.doit()
    if a == b:
        return True
    if a.free_symbols != b.free_symbols:
        return False
    if not a.free_symbols:
        va, vb = sympy.N(a, 50), sympy.N(b, 50)
        if va.is_number and vb.is_number:
            return bool(abs(va - vb) <= sympy.Float(10) ** -40 * max(1, abs(vb)))
        return False
    return sympy.simplify(a - b) == 0
