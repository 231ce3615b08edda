"""Evaluate a parsed expression exactly where it is rational and numerically (60 digits) where it is not.

Rational arithmetic (integers, fractions, decimals, integer powers, factorials, binomials) stays in Python's
`Fraction`, so 10^{100}+1 and 10^{100} differ and 0.333 is not 1/3. Anything irrational (roots, pi, trig, logs,
complex numbers) is an mpmath number with 60 significant digits in a context of our own (never mpmath's global
`mp`, which other code in the process may change). Every operation that could make a number too large to
compute is checked before it runs: `9^{9^{9^{9}}}` is refused in microseconds instead of running for hours,
because no signal can interrupt CPython's big-integer arithmetic once it has started.

Expressions with variables are compared by evaluating them at fixed points that no competition answer treats
specially (two different rational functions agree at a random point with probability 0).
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath

from rewards.math_parse import Add, Base, Const, Div, Func, Matrix, Mul, Num, Pow, Sym, Unsupported

DIGITS = 60
MAX_BITS = 40_000  # exact integers up to ~12,000 digits; beyond that a value is not an answer
MAX_MAGNITUDE_BITS = 10**6  # numeric values beyond 2^(10^6) are refused (their exponent alone is huge)
MAX_FACTORIAL = 2_000
MAX_SUM_TERMS = 10_000  # terms of all sums and products in one evaluation, nested ones included

Value = Fraction | mpmath.mpf | mpmath.mpc | list


class EvalError(ValueError):
    """The expression has no value here (division by zero, an unknown symbol, a size limit)."""


class TooLarge(EvalError):
    """Evaluating this would build a number too large to compute with."""


def _context(digits: int) -> mpmath.ctx_mp.MPContext:
    """A private mpmath context: its precision is ours, whatever other code in the process does with mpmath.mp."""
    ctx = mpmath.MPContext()
    ctx.dps = digits
    return ctx


MP = _context(DIGITS)


def evaluate(node: object, env: dict[str, Value] | None = None) -> Value:
    """The value of `node` with the symbols in `env` bound; raises EvalError (TooLarge for size limits)."""
    return _Evaluator(env or {}).eval(node)


def free_symbols(node: object) -> set[str]:
    """Names of the variables in `node` (bound summation indices excluded)."""
    out: set[str] = set()
    _collect(node, out, set())
    return out


def _collect(node: object, out: set[str], bound: set[str]) -> None:
    if isinstance(node, Sym):
        if node.name not in bound:
            out.add(node.name)
    elif isinstance(node, Add):
        for _, t in node.terms:
            _collect(t, out, bound)
    elif isinstance(node, Mul):
        for f in node.factors:
            _collect(f, out, bound)
    elif isinstance(node, Div):
        _collect(node.num, out, bound)
        _collect(node.den, out, bound)
    elif isinstance(node, Pow):
        _collect(node.base, out, bound)
        _collect(node.exp, out, bound)
    elif isinstance(node, Func):
        if node.name in ("sum", "prod"):
            var, low, high, body = node.args
            _collect(low, out, bound)
            _collect(high, out, bound)
            _collect(body, out, bound | {var.name})
        else:
            for a in node.args:
                _collect(a, out, bound)
    elif isinstance(node, Matrix):
        for row in node.rows:
            for x in row:
                _collect(x, out, bound)


def has_plus_minus(node: object) -> bool:
    if isinstance(node, Add):
        return any(s == 0 or has_plus_minus(t) for s, t in node.terms)
    if isinstance(node, Mul):
        return any(has_plus_minus(f) for f in node.factors)
    if isinstance(node, Div):
        return has_plus_minus(node.num) or has_plus_minus(node.den)
    if isinstance(node, Pow):
        return has_plus_minus(node.base) or has_plus_minus(node.exp)
    if isinstance(node, Func):
        return any(has_plus_minus(a) for a in node.args if not isinstance(a, Sym))
    return False


def expand_plus_minus(node: object, limit: int = 8) -> list[object]:
    """`1 \\pm \\sqrt{19}` -> [1 + sqrt19, 1 - sqrt19]: every choice of signs (at most `limit` expressions)."""
    results = [node]
    while any(has_plus_minus(n) for n in results):
        nxt = []
        for n in results:
            nxt += _split_first_pm(n)
        results = nxt
        if len(results) > limit:
            raise EvalError("too many plus-or-minus signs")
    return results


def _split_first_pm(node: object) -> list[object]:
    if isinstance(node, Add):
        for k, (s, t) in enumerate(node.terms):
            if s == 0:
                plus = (*node.terms[:k], (1, t), *node.terms[k + 1 :])
                minus = (*node.terms[:k], (-1, t), *node.terms[k + 1 :])
                return [Add(plus), Add(minus)]
            if has_plus_minus(t):
                return [Add((*node.terms[:k], (s, v), *node.terms[k + 1 :])) for v in _split_first_pm(t)]
    if isinstance(node, Mul):
        for k, f in enumerate(node.factors):
            if has_plus_minus(f):
                return [Mul((*node.factors[:k], v, *node.factors[k + 1 :])) for v in _split_first_pm(f)]
    if isinstance(node, Div):
        if has_plus_minus(node.num):
            return [Div(v, node.den) for v in _split_first_pm(node.num)]
        return [Div(node.num, v) for v in _split_first_pm(node.den)]
    if isinstance(node, Pow):
        if has_plus_minus(node.base):
            return [Pow(v, node.exp) for v in _split_first_pm(node.base)]
        return [Pow(node.base, v) for v in _split_first_pm(node.exp)]
    if isinstance(node, Func):
        for k, a in enumerate(node.args):
            if has_plus_minus(a):
                return [Func(node.name, (*node.args[:k], v, *node.args[k + 1 :])) for v in _split_first_pm(a)]
    return [node]


# ---- arithmetic on Fraction | mpf | mpc | matrix (list of rows) ----------------------------------------------------


def to_mp(x: Value):
    if isinstance(x, Fraction):
        if x.denominator == 1:
            return MP.mpf(x.numerator)
        return MP.mpf(x.numerator) / x.denominator
    if isinstance(x, list):
        raise EvalError("a matrix where a number is needed")
    return x


def _bits(x: Fraction) -> int:
    return max(x.numerator.bit_length(), x.denominator.bit_length())


def _exact(x: Value) -> bool:
    return isinstance(x, Fraction)


def add(a: Value, b: Value) -> Value:
    if isinstance(a, list) or isinstance(b, list):
        if not (isinstance(a, list) and isinstance(b, list)) or _shape(a) != _shape(b):
            raise EvalError("matrix shapes differ")
        return [[add(x, y) for x, y in zip(ra, rb, strict=True)] for ra, rb in zip(a, b, strict=True)]
    if _exact(a) and _exact(b):
        return a + b
    return to_mp(a) + to_mp(b)


def neg(a: Value) -> Value:
    if isinstance(a, list):
        return [[neg(x) for x in row] for row in a]
    return -a


def mul(a: Value, b: Value) -> Value:
    if isinstance(a, list) and isinstance(b, list):
        if len(a[0]) != len(b):
            raise EvalError("matrix shapes do not multiply")
        return [[_dot(row, [r[j] for r in b]) for j in range(len(b[0]))] for row in a]
    if isinstance(a, list):
        return [[mul(x, b) for x in row] for row in a]
    if isinstance(b, list):
        return [[mul(a, x) for x in row] for row in b]
    if _exact(a) and _exact(b):
        out = a * b
        if _bits(out) > MAX_BITS:
            raise TooLarge("number too large")
        return out
    return to_mp(a) * to_mp(b)


def _dot(xs: list, ys: list) -> Value:
    total: Value = Fraction(0)
    for x, y in zip(xs, ys, strict=True):
        total = add(total, mul(x, y))
    return total


def _shape(m: list) -> tuple[int, int]:
    return len(m), len(m[0])


def div(a: Value, b: Value) -> Value:
    if isinstance(b, list):
        raise EvalError("division by a matrix")
    if isinstance(a, list):
        return [[div(x, b) for x in row] for row in a]
    if _exact(a) and _exact(b):
        if b == 0:
            raise EvalError("division by zero")
        return a / b
    bm = to_mp(b)
    if bm == 0:
        raise EvalError("division by zero")
    return to_mp(a) / bm


def _log2_abs(x: Value) -> float:
    if isinstance(x, Fraction):
        if x == 0:
            return -math.inf
        return x.numerator.bit_length() - x.denominator.bit_length()
    m = abs(to_mp(x))
    if m == 0:
        return -math.inf
    return float(MP.log(m, 2))


def power(base: Value, exp: Value) -> Value:
    if isinstance(exp, list):
        raise EvalError("a matrix exponent")
    if isinstance(base, list):
        return _matrix_power(base, exp)
    if _exact(exp) and exp.denominator == 1:
        n = exp.numerator
        if _exact(base):
            if base == 0 and n < 0:
                raise EvalError("division by zero")
            if base in (0, 1) or (base == -1):
                return base**n
            bits = abs(n) * max(_bits(base), 1)
            if bits <= MAX_BITS:
                return base**n
        _check_magnitude(base, exp)
        return to_mp(base) ** n
    if _exact(base) and _exact(exp) and base > 0:
        root = _exact_root(base, exp.denominator)
        if root is not None:
            return power(root, Fraction(exp.numerator))
    if _exact(exp) and exp.denominator % 2 == 1 and is_real(base) and to_mp(real_part(base)) < 0:
        # x^(2/3) for x < 0 is the real value ((x)^(1/3))^2, as in school algebra (not the complex principal one)
        magnitude = power(neg(real_part(base)), exp)
        return magnitude if exp.numerator % 2 == 0 else neg(magnitude)
    _check_magnitude(base, exp)
    b = to_mp(base)
    if b == 0:
        e = to_mp(exp)
        if MP.re(e) > 0:
            return Fraction(0)
        raise EvalError("0 to a non-positive power")
    return MP.power(b, to_mp(exp))


def _check_magnitude(base: Value, exp: Value) -> None:
    size = abs(_log2_abs(base)) * abs(float(abs(to_mp(exp)))) if not isinstance(exp, list) else math.inf
    if size > MAX_MAGNITUDE_BITS:
        raise TooLarge("number too large")


def _exact_root(x: Fraction, k: int) -> Fraction | None:
    if k > 64 or _bits(x) > 4096:
        return None
    num, den = _int_root(x.numerator, k), _int_root(x.denominator, k)
    if num is None or den is None:
        return None
    return Fraction(num, den)


def _int_root(n: int, k: int) -> int | None:
    """The exact integer k-th root of n, or None (Newton's method on integers: exact for any size)."""
    if n < 0:
        return None
    if n < 2:
        return n
    x = 1 << ((n.bit_length() + k - 1) // k)  # above the root
    while True:
        y = ((k - 1) * x + n // x ** (k - 1)) // k
        if y >= x:
            break
        x = y
    return x if x**k == n else None


def _matrix_power(m: list, exp: Value) -> list:
    if not (_exact(exp) and exp.denominator == 1 and 0 <= exp.numerator <= 256) or len(m) != len(m[0]):
        raise EvalError("unsupported matrix power")
    result = [[Fraction(int(i == j)) for j in range(len(m))] for i in range(len(m))]
    for _ in range(exp.numerator):
        result = mul(result, m)
    return result


def values_equal(a: Value, b: Value, tolerance_digits: int = DIGITS - 12) -> bool:
    """Exact equality for two rationals; else agreement to `tolerance_digits` significant digits."""
    if isinstance(a, list) or isinstance(b, list):
        if not (isinstance(a, list) and isinstance(b, list)) or _shape(a) != _shape(b):
            return False
        return all(values_equal(x, y) for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb, strict=True))
    if _exact(a) and _exact(b):
        return a == b
    x, y = to_mp(a), to_mp(b)
    if MP.isinf(x) or MP.isinf(y):
        return x == y
    if MP.isnan(x) or MP.isnan(y):
        return False
    scale = max(MP.mpf(1), abs(x), abs(y))
    return abs(x - y) <= scale * MP.mpf(10) ** (-tolerance_digits)


def is_real(x: Value) -> bool:
    if isinstance(x, Fraction):
        return True
    if isinstance(x, mpmath.mpc) or type(x).__name__ == "mpc":
        return abs(x.imag) <= MP.mpf(10) ** (-(DIGITS - 12)) * max(1, abs(x.real))
    return not isinstance(x, list)


def real_part(x: Value):
    if isinstance(x, Fraction):
        return x
    return MP.re(x) if type(x).__name__ == "mpc" else x


def terminating(x: Value) -> bool:
    """A rational whose decimal expansion ends (its denominator has no prime factor but 2 and 5)."""
    if not isinstance(x, Fraction):
        return False
    d = x.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


# ---- the evaluator --------------------------------------------------------------------------------------------

_TRIG = {
    "sin": "sin", "cos": "cos", "tan": "tan", "cot": "cot", "sec": "sec", "csc": "csc", "arcsin": "asin",
    "arccos": "acos", "arctan": "atan", "arccot": "acot", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
    "coth": "coth", "exp": "exp",
}  # fmt: skip


class _Evaluator:
    def __init__(self, env: dict[str, Value]) -> None:
        self.env = env
        self.terms_left = MAX_SUM_TERMS

    def eval(self, node: object) -> Value:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise EvalError(f"{type(node).__name__} has no numeric value")
        return method(node)

    def _Num(self, node: Num) -> Value:
        return node.value

    def _Sym(self, node: Sym) -> Value:
        if node.name in self.env:
            return self.env[node.name]
        raise EvalError(f"unbound symbol {node.name}")

    def _Const(self, node: Const) -> Value:
        if node.name == "pi":
            return MP.pi
        if node.name == "e":
            return MP.e
        if node.name == "i":
            return MP.mpc(0, 1)
        if node.name == "oo":
            return MP.inf
        raise EvalError(node.name)

    def _Add(self, node: Add) -> Value:
        total: Value | None = None
        for sign, term in node.terms:
            if sign == 0:
                raise EvalError("plus-or-minus has two values")
            v = self.eval(term)
            v = v if sign > 0 else neg(v)
            total = v if total is None else add(total, v)
        return total

    def _Mul(self, node: Mul) -> Value:
        out: Value = Fraction(1)
        for f in node.factors:
            out = mul(out, self.eval(f))
        return out

    def _Div(self, node: Div) -> Value:
        return div(self.eval(node.num), self.eval(node.den))

    def _Pow(self, node: Pow) -> Value:
        exp = self.eval(node.exp)
        base = self.eval(node.base)
        return power(base, exp)

    def _Matrix(self, node: Matrix) -> Value:
        return [[self.eval(x) for x in row] for row in node.rows]

    def _Base(self, node: Base) -> Value:
        try:
            return Fraction(int(node.digits, node.base))
        except ValueError:
            raise EvalError(f"{node.digits} is not a base-{node.base} number") from None

    def _Func(self, node: Func) -> Value:
        name = node.name
        if name in ("sum", "prod"):
            return self._big_operator(node)
        if name == "label":
            raise EvalError("a label has no value")
        if name == "ratio":
            raise EvalError("a ratio is not a number")
        args = [self.eval(a) for a in node.args]
        if name == "transpose" and isinstance(args[0], list):
            return [list(col) for col in zip(*args[0], strict=True)]
        if any(isinstance(a, list) for a in args):
            raise EvalError(f"{name} of a matrix")
        if name == "sqrt":
            return _sqrt(args[0])
        if name == "root":
            return _nth_root(args[0], args[1])
        if name == "abs":
            return abs(args[0]) if _exact(args[0]) else MP.mpf(abs(args[0]))
        if name == "fact":
            return _factorial(args[0])
        if name == "binom":
            return _binomial(args[0], args[1])
        if name in ("floor", "ceil"):
            x = real_part(args[0])
            if _exact(x):
                return Fraction(math.floor(x) if name == "floor" else math.ceil(x))
            return Fraction(int(MP.floor(x) if name == "floor" else MP.ceil(x)))
        if name in ("log", "ln", "lg"):
            return _log(args, name)
        if name in _TRIG:
            return getattr(MP, _TRIG[name])(to_mp(args[0]))
        if name in ("gcd", "lcm"):
            if not all(_exact(a) and a.denominator == 1 for a in args):
                raise EvalError(f"{name} of non-integers")
            fn = math.gcd if name == "gcd" else math.lcm
            return Fraction(fn(*(int(a) for a in args)))
        if name in ("max", "min"):
            reals = [real_part(a) for a in args]
            best = max(reals, key=to_mp) if name == "max" else min(reals, key=to_mp)
            return best
        raise Unsupported(f"the function {name}")

    def _big_operator(self, node: Func) -> Value:
        var, low, high, body = node.args
        lo, hi = self.eval(low), self.eval(high)
        if not (_exact(lo) and _exact(hi) and lo.denominator == 1 and hi.denominator == 1):
            raise EvalError("symbolic bounds")
        self.terms_left -= max(0, int(hi - lo) + 1)
        if self.terms_left < 0:
            raise TooLarge("too many terms")
        total: Value = Fraction(0) if node.name == "sum" else Fraction(1)
        saved = self.env.get(var.name)
        for k in range(int(lo), int(hi) + 1):
            self.env[var.name] = Fraction(k)
            v = self.eval(body)
            total = add(total, v) if node.name == "sum" else mul(total, v)
        if saved is None:
            self.env.pop(var.name, None)
        else:
            self.env[var.name] = saved
        return total


def _sqrt(x: Value) -> Value:
    if _exact(x) and x >= 0:
        root = _exact_root(x, 2)
        if root is not None:
            return root
    return MP.sqrt(to_mp(x))


def _nth_root(x: Value, n: Value) -> Value:
    if not (_exact(n) and n.denominator == 1 and n > 0):
        return power(x, div(Fraction(1), n))
    k = n.numerator
    if _exact(x):
        if x >= 0:
            root = _exact_root(x, k)
            if root is not None:
                return root
        elif k % 2 == 1:  # the real cube root of a negative number, as \sqrt[3]{-8} = -2 means
            root = _exact_root(-x, k)
            return -root if root is not None else -MP.root(to_mp(-x), k)
    xm = to_mp(x)
    if is_real(xm) and real_part(xm) < 0 and k % 2 == 1:
        return -MP.root(-real_part(xm), k)
    return MP.root(xm, k)


def _factorial(x: Value) -> Value:
    if _exact(x) and x.denominator == 1 and x >= 0:
        if x > MAX_FACTORIAL:
            raise TooLarge("factorial too large")
        return Fraction(math.factorial(int(x)))
    xm = to_mp(x)
    if abs(xm) > MAX_FACTORIAL:
        raise TooLarge("factorial too large")
    return MP.gamma(xm + 1)


def _binomial(n: Value, k: Value) -> Value:
    if _exact(n) and _exact(k) and n.denominator == 1 and k.denominator == 1:
        if abs(n) > 20_000:
            raise TooLarge("binomial too large")
        if n >= 0:
            return Fraction(math.comb(int(n), int(k))) if k >= 0 else Fraction(0)
    return MP.binomial(to_mp(n), to_mp(k))


def _log(args: list[Value], name: str) -> Value:
    x = to_mp(args[0])
    if x == 0:
        raise EvalError("log of zero")
    if len(args) == 2:
        base = to_mp(args[1])
        if base in (0, 1):
            raise EvalError("bad logarithm base")
        return MP.log(x) / MP.log(base)
    # \\log without a base is base 10 here, as in latex2sympy and competition problems; \\ln is natural
    return MP.log(x) if name == "ln" else MP.log(x) / MP.log(10)


__all__ = ["MP", "EvalError", "TooLarge", "evaluate", "expand_plus_minus", "free_symbols", "values_equal"]
