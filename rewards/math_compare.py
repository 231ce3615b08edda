"""What a parsed answer means, and when two meanings are the same answer.

A parsed `Answer` becomes one of a few meanings: a value (number, expression, matrix), several answers (a tuple
whose order matters, a set or list whose order does not, alternatives joined by "or"), a labelled answer
(`x = 5`, `AB = 4`, `(p, q) = (3, 2)`), a subset of the real line (intervals, unions, and inequalities in one
variable, however they are written), an equation, a ratio or time (`7:32`, `12:00`), a number in another base,
or text. Comparison then follows what a careful grader accepts:

- a label may be dropped (`x = 5` for 5) but labels that are present must agree; labelled parts are matched
  by label, unlabelled ones by position;
- `x > 3`, `3 < x` and `(3, \\infty)` are the same set; `(a, b)` is a point or an open interval, whichever
  the other answer is;
- a percent sign may be dropped (20% is 20 or 0.2);
- decimals are exact (0.5 = 1/2, 0.333 != 1/3), with one exception for long decimals, see `decimal_matches`;
- several values joined by "or" are alternatives: right only if the gold answer has exactly those values, so
  `2 or 3` is wrong for 2 and right for "2, 3".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from rewards.math_parse import (
    Add,
    Answer,
    Base,
    Div,
    Func,
    Item,
    Matrix,
    Mul,
    Num,
    Pow,
    Rel,
    Seq,
    SetOp,
    Special,
    Sym,
    Text,
)
from rewards.math_value import (
    MP,
    EvalError,
    TooLarge,
    Value,
    evaluate,
    expand_plus_minus,
    free_symbols,
    has_plus_minus,
    is_real,
    real_part,
    terminating,
    to_mp,
    values_equal,
)

APPROX_GOLD_DIGITS = 6  # a gold decimal with this many significant digits may approximate an exact prediction
APPROX_PREDICTION_DIGITS = 10  # a predicted decimal needs this many to stand for an exact non-terminating gold


# ---- meanings -------------------------------------------------------------------------------------------------


@dataclass
class ValueM:
    node: object
    percent: bool = False
    raw: str = ""


@dataclass
class BaseM:
    digits: str
    base: int


@dataclass
class TextM:
    key: str
    words: tuple = ()


@dataclass
class ManyM:
    items: list
    kind: str  # tuple, pair (a tuple of two, or an open interval), set, list, alternatives, record


@dataclass
class LabelledM:
    label: str
    inner: object
    lhs: object = None  # the nodes, for comparing `y = 2x + 3` with `2x - y + 3 = 0` as equations
    rhs: object = None
    names: tuple = ()  # a tuple label `(p, q)`: its names


@dataclass
class RegionM:
    var: str | None
    pieces: list  # sorted (low, high, low_closed, high_closed), endpoints as values (+-inf allowed)


@dataclass
class EquationM:
    lhs: object
    rhs: object
    lhs_raw: str = ""


@dataclass
class RelationM:
    members: tuple
    ops: tuple


@dataclass
class RatioM:
    parts: tuple


@dataclass
class ReadingsM:
    options: list = field(default_factory=list)  # `x = 1/3 \approx 0.33`: right if any reading is


class Refused(ValueError):
    """The answer is well-formed but is not a single answer a grader could accept (the reason is the message)."""


# ---- labels ---------------------------------------------------------------------------------------------------

_FUNCTION_CALL = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?\s*\([^()]*\)$")


def label_key(raw: str) -> str:
    key = re.sub(r"\\(?:overline|mathrm|text|mathbf|operatorname|angle|left|right|,|;|!)", "", raw)
    return re.sub(r"[\s{}$]", "", key)


def is_label(node: object, raw: str) -> bool:
    """A name rather than a value: `x`, `a_1`, `AB`, `f(x)`, `p(8)`, `|AB|`, `A:B`, `\\frac{NO}{BO}`, `(p,q)`."""
    if _FUNCTION_CALL.match(raw.strip()):
        return True
    return _label_node(node)


def _label_node(node: object) -> bool:
    if isinstance(node, Sym):
        return True
    if isinstance(node, Mul):
        return all(isinstance(f, Sym) for f in node.factors)
    if isinstance(node, Func) and node.name in ("abs", "label", "ratio"):
        return all(_label_node(a) for a in node.args)
    if isinstance(node, Div):
        return _label_node(node.num) and _label_node(node.den)
    if isinstance(node, Seq) and node.open == "(":
        return all(isinstance(i.node, Sym) for i in node.items)
    return False


# ---- from parse tree to meaning -------------------------------------------------------------------------------


def meaning(answer: Answer) -> object:
    if answer.items and isinstance(answer.items[0], Answer):  # semicolon-separated groups
        return ManyM([meaning(part) for part in answer.items], "list")
    metas = [meaning_of_item(item) for item in answer.items]
    if len(metas) == 1:
        return metas[0]
    return _combine(metas, answer.connectors)


def _combine(metas: list, connectors: list) -> object:
    if all(isinstance(m, RegionM) for m in metas):
        result = metas[0]
        for m, conn in zip(metas[1:], connectors, strict=True):
            both = region_intersection(result, m)
            # "and" is where both hold, "or" where either does; a comma lists conditions that hold together
            # (0 < x < 36, x \ne 9) unless they cannot (x < 2, x > 3 lists the pieces of a union)
            together = conn == "and" or (conn == "," and both.pieces)
            result = both if together else region_union(result, m)
        return result
    alternatives = "or" in connectors
    labelled = [m for m in metas if isinstance(m, LabelledM)]
    kind = "alternatives" if alternatives else "list"
    if labelled and len(labelled) == len(metas):
        labels = [m.label for m in labelled]
        if len(set(labels)) == 1:  # x = 1, x = 2: the values of one unknown
            return LabelledM(labels[0], ManyM([m.inner for m in labelled], kind))
        if len(set(labels)) == len(labels) and not alternatives:
            return ManyM(metas, "record")
    if isinstance(metas[0], LabelledM) and not any(isinstance(m, LabelledM) for m in metas[1:]):
        first = metas[0]  # a = 4, -8, -10: the label names the whole list
        return LabelledM(first.label, ManyM([first.inner, *metas[1:]], kind))
    return ManyM(metas, kind)


def meaning_of_item(item: Item) -> object:
    node = item.node
    if isinstance(node, Text):
        return TextM(text_key(" ".join(node.words)), _words(" ".join(node.words)))
    m = meaning_of_node(node, item.raw)
    if item.percent:
        if isinstance(m, ValueM):
            m.percent = True
        elif isinstance(m, ManyM) and all(isinstance(x, ValueM) for x in m.items):
            for x in m.items:
                x.percent = True
    return m


def meaning_of_node(node: object, raw: str = "") -> object:
    if isinstance(node, Rel):
        return relation_meaning(node)
    if isinstance(node, Seq):
        return sequence_meaning(node)
    if isinstance(node, SetOp | Special):
        return region_of(node)
    if isinstance(node, Base):
        return BaseM(node.digits.upper().lstrip("0") or "0", node.base)
    if isinstance(node, Func) and node.name == "ratio":
        return RatioM(node.args)
    if isinstance(node, Text):
        return TextM(text_key(" ".join(node.words)), _words(" ".join(node.words)))
    if has_plus_minus(node):
        return ManyM([ValueM(n, raw=raw) for n in expand_plus_minus(node)], "set")
    return ValueM(node, raw=raw)


def sequence_meaning(seq: Seq) -> object:
    items = [meaning_of_item(i) for i in seq.items]
    if seq.separator == "|":  # set-builder: where every condition holds
        regions = [m if isinstance(m, RegionM) else None for m in items]
        if any(r is None for r in regions):
            raise Refused("a set-builder condition that is not about one unknown")
        result = regions[0]
        for r in regions[1:]:
            result = region_intersection(result, r)
        return result
    if seq.open in (r"\{", "{"):
        flat = []
        for m in items:
            flat += m.items if isinstance(m, ManyM) and m.kind == "set" else [m]
        # `\{1, 2\}` is a set; `{1, 2}` (TeX braces) is a list: a set, or a tuple in the order written
        return ManyM(flat, "set" if seq.open == r"\{" else "list")
    mixed = (seq.open, seq.close) in (("(", "]"), ("[", ")"))
    if seq.open in ("(", "[") and len(items) == 2 and (seq.open, seq.close) != ("(", ")"):
        region = _interval(seq)
        if region is not None:
            return region
        if mixed:
            raise Refused("half-open brackets around something that is not an interval")
        return ManyM(items, "tuple")
    if mixed:
        raise Refused("half-open brackets around something that is not an interval")
    if (seq.open, seq.close) == ("(", ")") and len(items) == 2:
        return ManyM(items, "pair")
    return ManyM(items, "tuple")


def relation_meaning(rel: Rel) -> object:
    ops = rel.ops
    if "~" in ops:
        return _approximation(rel)
    if all(op == "=" for op in ops):
        return _equalities(rel)
    if ops == ("in",):
        inner = meaning_of_node(rel.members[1])
        key = label_key(rel.raws[0])
        if isinstance(inner, RegionM):
            return RegionM(key, inner.pieces)
        return LabelledM(key, inner)
    if all(op in ("<", "<=", ">", ">=", "!=") for op in ops):
        region = inequality_region(rel)
        if region is not None:
            return region
        return RelationM(rel.members, ops)
    raise Refused("a relation mixing = with inequalities")


def _equalities(rel: Rel) -> object:
    members, raws = rel.members, rel.raws
    if len(members) >= 3:  # x = 5 + 5 + 1 = 11: the last member is the answer, the first label names it
        value = members[-1]
        for node, raw in zip(reversed(members[:-1]), reversed(raws[:-1]), strict=True):
            if is_label(node, raw):
                return _labelled(node, raw, value, raws[-1])
        return meaning_of_node(value, raws[-1])
    lhs, rhs = members
    if is_label(lhs, raws[0]):
        return _labelled(lhs, raws[0], rhs, raws[1])
    if is_label(rhs, raws[1]) and not free_symbols(lhs):
        return _labelled(rhs, raws[1], lhs, raws[0])
    if not free_symbols(lhs) and not free_symbols(rhs):  # 2 + 3 = 5: a computation ending in the answer
        return meaning_of_node(rhs, raws[1])
    return EquationM(lhs, rhs, raws[0])


def _labelled(label: object, raw: str, value: object, value_raw: str) -> LabelledM:
    names = ()
    if isinstance(label, Seq):
        names = tuple(label_key(i.raw) for i in label.items)
    return LabelledM(label_key(raw), meaning_of_node(value, value_raw), label, value, names)


def _approximation(rel: Rel) -> object:
    """`A \\approx B`: the answer is A. B is a second reading only when it is A rounded (70/9 \\approx 7.78, right for
    a gold of 7.78 too); a "B" that is not close to A is ignored, never a second chance. `x \\approx 11` gives x."""
    k = rel.ops.index("~")
    left = Rel(rel.members[: k + 1], rel.ops[:k], rel.raws[: k + 1]) if k > 0 else rel.members[0]
    right, right_raw = rel.members[k + 1], rel.raws[k + 1]
    if not isinstance(left, Rel) and is_label(left, rel.raws[0]):
        return _labelled(left, rel.raws[0], right, right_raw)
    exact = meaning_of_node(left, rel.raws[0])
    value = left.members[-1] if isinstance(left, Rel) else left
    if not _close(value, right):
        return exact
    rounded = meaning_of_node(right, right_raw)
    if isinstance(exact, LabelledM):
        rounded = LabelledM(exact.label, rounded)
    return ReadingsM([exact, rounded])


def _close(exact: object, approx: object) -> bool:
    a, b = _real_constant(exact), _real_constant(approx)
    decimal = _decimal_literal(approx)
    if a is None or b is None or decimal is None:
        return False
    places = len(decimal.text.partition(".")[2])
    return abs(to_mp(a) - to_mp(b)) <= MP.mpf(10) ** (-places)


def text_key(text: str) -> str:
    """Text compared without case, spacing, punctuation, wrappers or a leading article (`an ellipse`)."""
    text = re.sub(r"\\(?:text\w*|mbox|mathrm|mathbf|textbf)", "", text).lower()
    text = re.sub(r"^\W*(?:an?|the)\s+", "", text)
    return re.sub(r"[^0-9a-z]", "", text)


# ---- regions of the real line ---------------------------------------------------------------------------------

INF = MP.inf


def _real_constant(node: object) -> Value | None:
    if free_symbols(node):
        return None
    try:
        v = evaluate(node)
    except EvalError:
        return None
    if isinstance(v, list) or not is_real(v):
        return None
    return real_part(v)


def _interval(seq: Seq) -> RegionM | None:
    lo, hi = (_real_constant(i.node) for i in seq.items)
    if lo is None or hi is None or to_mp(lo) > to_mp(hi):
        return None
    return RegionM(None, [_piece(lo, hi, seq.open == "[", seq.close == "]")])


def _piece(lo: Value, hi: Value, lo_closed: bool, hi_closed: bool) -> tuple:
    lo_closed = lo_closed and not MP.isinf(to_mp(lo))
    hi_closed = hi_closed and not MP.isinf(to_mp(hi))
    return (lo, hi, lo_closed, hi_closed)


def region_of(node: object) -> RegionM:
    if isinstance(node, Special):
        if node.name == "reals":
            return RegionM(None, [_piece(-INF, INF, False, False)])
        return RegionM(None, [])
    if isinstance(node, SetOp):
        a, b = region_of(node.args[0]), region_of(node.args[1])
        if node.op == "cup":
            return region_union(a, b)
        if node.op == "cap":
            return region_intersection(a, b)
        return region_intersection(a, region_complement(b))
    if isinstance(node, Seq):
        m = sequence_meaning(node)
        if isinstance(m, RegionM):
            return m
        if isinstance(m, ManyM) and m.kind == "pair":
            region = _interval(node)
            if region is not None:
                return region
        if isinstance(m, ManyM) and m.kind == "set":
            return points_region(m)
    raise Refused("not a set of numbers")


def points_region(m: ManyM) -> RegionM:
    pieces = []
    for item in m.items:
        if not isinstance(item, ValueM):
            raise Refused("not a set of numbers")
        v = _real_constant(item.node)
        if v is None:
            raise Refused("not a set of numbers")
        pieces.append((v, v, True, True))
    return _normalized(None, pieces)


def _normalized(var: str | None, pieces: list) -> RegionM:
    pieces = sorted(pieces, key=lambda p: (to_mp(p[0]), not p[2]))
    out: list = []
    for lo, hi, lc, hc in pieces:
        if to_mp(lo) > to_mp(hi) or (values_equal(lo, hi) and not (lc and hc)):
            continue
        if out:
            plo, phi, plc, phc = out[-1]
            touching = values_equal(phi, lo) and (phc or lc)
            if to_mp(lo) < to_mp(phi) or touching:
                if to_mp(hi) > to_mp(phi) or (values_equal(hi, phi) and hc):
                    out[-1] = (plo, hi, plc, hc if not values_equal(hi, phi) else (hc or phc))
                continue
        out.append((lo, hi, lc, hc))
    return RegionM(var, out)


def region_union(a: RegionM, b: RegionM) -> RegionM:
    return _normalized(a.var or b.var, a.pieces + b.pieces)


def region_complement(a: RegionM) -> RegionM:
    pieces, start, start_closed = [], -INF, False
    for lo, hi, lc, hc in a.pieces:
        pieces.append((start, lo, start_closed, not lc))
        start, start_closed = hi, not hc
    pieces.append((start, INF, start_closed, False))
    return _normalized(a.var, pieces)


def region_intersection(a: RegionM, b: RegionM) -> RegionM:
    return region_complement(region_union(region_complement(a), region_complement(b)))


def _from_op(op: str, c: Value) -> RegionM:
    """The set {v : v op c}."""
    if op == "<":
        return RegionM(None, [_piece(-INF, c, False, False)])
    if op == "<=":
        return RegionM(None, [_piece(-INF, c, False, True)])
    if op == ">":
        return RegionM(None, [_piece(c, INF, False, False)])
    if op == ">=":
        return RegionM(None, [_piece(c, INF, True, False)])
    return RegionM(None, [_piece(-INF, c, False, False), _piece(c, INF, False, False)])  # !=


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "!=": "!="}


def inequality_region(rel: Rel) -> RegionM | None:
    """`-2 \\le x \\le 7`, `3 < x`, `-x > -1`, `1 \\le |z| \\le 3/2`, `0 < f(x) < 1`: the set of values of the one
    unknown in the chain, or None when the chain is not about one unknown."""
    members, raws = rel.members, rel.raws
    variable = [k for k, m in enumerate(members) if _real_constant(m) is None]
    if len(variable) != 1:
        return None
    k = variable[0]
    node, raw = members[k], raws[k]
    region = RegionM(None, [_piece(-INF, INF, False, False)])
    for j, op in enumerate(rel.ops):
        if j == k:  # var op constant
            c, rel_op = _real_constant(members[j + 1]), op
        elif j + 1 == k:  # constant op var
            c, rel_op = _real_constant(members[j]), _FLIP[op]
        else:  # a relation between two constants in the chain: nothing about the unknown
            continue
        part = _solve(node, raw, rel_op, c)
        if part is None:
            return None
        region = region_intersection(region, part)
    names = free_symbols(node)
    # -x > -1 or |z| <= 2 is about x or z; 0 < f(x) < 1 is about f(x)
    var = next(iter(names)) if len(names) == 1 and not isinstance(node, Sym) else label_key(raw)
    return RegionM(var, region.pieces)


def _solve(node: object, raw: str, op: str, c: Value) -> RegionM | None:
    """{v : f(v) op c} for f the unknown itself, linear in it, or linear in its absolute value."""
    if is_label(node, raw) and not isinstance(node, Func):
        return _from_op(op, c)
    names = free_symbols(node)
    if len(names) != 1:
        return None if not is_label(node, raw) else _from_op(op, c)
    name = next(iter(names))
    line = _linear(node, name, lambda t: t)
    if line is not None:
        a, b = line
        bound = _div(_sub(c, b), a)
        return _from_op(op if to_mp(a) > 0 else _FLIP[op], bound)
    abs_line = _linear(node, name, abs, even=True)
    if abs_line is not None:  # a|v| + b op c: |v| op' bound
        a, b = abs_line
        bound = _div(_sub(c, b), a)
        op2 = op if to_mp(a) > 0 else _FLIP[op]
        inner = _from_op(op2, bound)
        nonneg = RegionM(None, [_piece(Fraction(0), INF, True, False)])
        positive = region_intersection(inner, nonneg)
        mirrored = [(_neg(hi), _neg(lo), hc, lc) for lo, hi, lc, hc in positive.pieces]
        return _normalized(None, positive.pieces + mirrored)
    return None


def _neg(x: Value) -> Value:
    return -x


def _sub(a: Value, b: Value) -> Value:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a - b
    return to_mp(a) - to_mp(b)


def _div(a: Value, b: Value) -> Value:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a / b
    return to_mp(a) / to_mp(b)


def _linear(node: object, name: str, inner, even: bool = False) -> tuple[Value, Value] | None:
    """(a, b) with f(v) = a*inner(v) + b at test points, a != 0; None if f is not of that form."""
    points = [Fraction(0), Fraction(1), Fraction(7, 3), Fraction(-5, 2)]
    try:
        values = [evaluate(node, {name: p}) for p in points]
    except EvalError:
        return None
    if any(isinstance(v, list) or not is_real(v) for v in values):
        return None
    values = [real_part(v) for v in values]
    b = values[0]
    a = _sub(values[1], b)
    if values_equal(a, Fraction(0)):
        return None
    for p, v in zip(points[2:], values[2:], strict=True):
        t = abs(p) if even else p
        expected = _sub(b, -(a * t)) if isinstance(a, Fraction) else to_mp(b) + to_mp(a) * to_mp(t)
        if not values_equal(v, expected):
            return None
    if even and values_equal(values[3], _sub(b, -(a * Fraction(-5, 2)))):
        return None  # linear in v itself, not in |v|
    return a, b


# ---- equality -------------------------------------------------------------------------------------------------

_POINTS = ["0.6180339887498948482", "1.324717957244746026", "-0.7548776662466927600", "2.2055694304005903117",
           "-1.465571231876768026", "0.4142135623730950488"]  # fmt: skip
_INTEGER_POINTS = [5, 8, 6, 7, 9, 4]


def _environment(names: list[str], k: int, integer_names: set[str]) -> dict[str, Value]:
    env = {}
    for idx, name in enumerate(sorted(names)):
        if name in integer_names:
            env[name] = Fraction(_INTEGER_POINTS[(k + idx) % len(_INTEGER_POINTS)])
        else:
            env[name] = MP.mpf(_POINTS[(k + 2 * idx) % len(_POINTS)]) + MP.mpf(idx) / 7
    return env


def _summation_bounds(node: object, out: set[str]) -> None:
    if isinstance(node, Func) and node.name in ("sum", "prod"):
        out |= free_symbols(node.args[1]) | free_symbols(node.args[2])
    for child in _children(node):
        _summation_bounds(child, out)


def _children(node: object) -> list:
    if isinstance(node, Add):
        return [t for _, t in node.terms]
    if isinstance(node, Mul):
        return list(node.factors)
    if isinstance(node, Div):
        return [node.num, node.den]
    if isinstance(node, Pow):
        return [node.base, node.exp]
    if isinstance(node, Func):
        return list(node.args)
    return []


def expressions_equal(a: object, b: object) -> bool:
    """Same value (no variables), or the same function of the variables at several points. A variable written
    in the other case (`3r^2` for `3R^2`) is the same variable unless the answers use both cases."""
    if _same_function(a, b):
        return True
    renaming = _case_renaming(free_symbols(a), free_symbols(b))
    return renaming is not None and _same_function(_renamed(a, renaming), b)


def _case_renaming(pred: set[str], gold: set[str]) -> dict[str, str] | None:
    if pred == gold or {n.lower() for n in pred} != {n.lower() for n in gold}:
        return None
    if len({n.lower() for n in pred}) != len(pred) or len({n.lower() for n in gold}) != len(gold):
        return None  # one answer uses both r and R: they are different variables
    by_lower = {n.lower(): n for n in gold}
    return {n: by_lower[n.lower()] for n in pred}


def _renamed(node: object, renaming: dict[str, str]) -> object:
    if isinstance(node, Sym):
        return Sym(renaming.get(node.name, node.name))
    if isinstance(node, Add):
        return Add(tuple((s, _renamed(t, renaming)) for s, t in node.terms))
    if isinstance(node, Mul):
        return Mul(tuple(_renamed(f, renaming) for f in node.factors))
    if isinstance(node, Div):
        return Div(_renamed(node.num, renaming), _renamed(node.den, renaming))
    if isinstance(node, Pow):
        return Pow(_renamed(node.base, renaming), _renamed(node.exp, renaming))
    if isinstance(node, Func):
        return Func(node.name, tuple(_renamed(x, renaming) for x in node.args))
    if isinstance(node, Matrix):
        return Matrix(tuple(tuple(_renamed(x, renaming) for x in row) for row in node.rows), node.env)
    return node


def _same_function(a: object, b: object) -> bool:
    names = sorted(free_symbols(a) | free_symbols(b))
    if not names:
        return values_equal(evaluate(a), evaluate(b))
    integer_names: set[str] = set()
    _summation_bounds(a, integer_names)
    _summation_bounds(b, integer_names)
    agreed = 0
    for k in range(4):
        env = _environment(names, k, integer_names)
        try:
            va, vb = evaluate(a, dict(env)), evaluate(b, dict(env))
        except EvalError:
            continue
        if not values_equal(va, vb):
            return False
        agreed += 1
    return agreed >= 2


def _decimal_literal(node: object) -> Num | None:
    if isinstance(node, Num) and node.decimal:
        return node
    if isinstance(node, Add) and len(node.terms) == 1 and node.terms[0][0] == -1:
        inner = node.terms[0][1]
        if isinstance(inner, Num) and inner.decimal:
            return Num(-inner.value, "-" + inner.text, True)
    return None


def _significant_digits(text: str) -> int:
    digits = text.replace("-", "").replace(".", "").lstrip("0")
    return len(digits)


def decimal_matches(decimal: Num, exact: Value, min_digits: int) -> bool:
    """A long decimal stands for an exact value that has no finite decimal expansion when it is that value
    rounded or truncated at its last digit: 4.123105625617661 for sqrt(17) (gold), 0.0833333333333333 for 1/12
    (prediction). Short decimals never do (0.333 is not 1/3), and a value that has a finite expansion must be
    written exactly (0.12 is not 1/8)."""
    if terminating(exact) or _significant_digits(decimal.text) < min_digits:
        return False
    if not is_real(exact):
        return False
    places = len(decimal.text.partition(".")[2])
    unit = MP.mpf(10) ** (-places)
    return abs(to_mp(real_part(exact)) - to_mp(decimal.value)) <= unit


def values_same(p: ValueM, g: ValueM) -> bool:
    """Two single values: equal exactly, through a dropped percent sign, or by the decimal rule."""
    try:
        vp, vg = _evaluated(p.node), _evaluated(g.node)
    except TooLarge:
        raise
    except EvalError:
        vp = vg = None
    if vp is None or vg is None:
        return _symbolic_equal(p, g)
    for a in _readings(vp, p.percent):
        for b in _readings(vg, g.percent):
            if values_equal(a, b):
                return True
    gold_decimal, pred_decimal = _decimal_literal(g.node), _decimal_literal(p.node)
    if gold_decimal is not None and pred_decimal is None and not isinstance(vp, list):
        return decimal_matches(gold_decimal, vp, APPROX_GOLD_DIGITS)
    if pred_decimal is not None and gold_decimal is None and not isinstance(vg, list):
        return decimal_matches(pred_decimal, vg, APPROX_PREDICTION_DIGITS)
    return False


def _evaluated(node: object) -> Value | None:
    if free_symbols(node):
        return None
    return evaluate(node)


def _symbolic_equal(p: ValueM, g: ValueM) -> bool:
    try:
        if p.percent == g.percent or not (p.percent or g.percent):
            return expressions_equal(p.node, g.node)
        return expressions_equal(p.node, g.node) or expressions_equal(
            Div(p.node if p.percent else g.node, Num(Fraction(100), "100")), g.node if p.percent else p.node
        )
    except EvalError:
        return False


def _readings(v: Value, percent: bool) -> list[Value]:
    if not percent or isinstance(v, list):
        return [v]
    return [v, v / 100 if isinstance(v, Fraction) else to_mp(v) / 100]


def equivalent(p: object, g: object) -> bool:
    """Is the predicted meaning `p` the same answer as the gold meaning `g`?"""
    if isinstance(g, ReadingsM):
        return any(equivalent(p, option) for option in g.options)
    if isinstance(p, ReadingsM):
        return any(equivalent(option, g) for option in p.options)
    if isinstance(g, TextM) or isinstance(p, TextM):
        return _texts_equal(p, g)
    if isinstance(g, LabelledM) or isinstance(p, LabelledM):
        return _labelled_equal(p, g)
    if isinstance(g, EquationM) or isinstance(p, EquationM):
        if isinstance(p, EquationM) and isinstance(g, ValueM) and _names(p.lhs_raw):
            return equivalent(meaning_of_node(p.rhs), g)  # b + c = 3.21 for a gold of 3.21: the named quantity
        return isinstance(p, EquationM) and isinstance(g, EquationM) and equations_equal(p, g)
    if isinstance(g, RegionM) or isinstance(p, RegionM):
        return _regions_equal(p, g)
    if isinstance(g, ManyM) or isinstance(p, ManyM):
        return _many_equal(p, g)
    if isinstance(g, BaseM) or isinstance(p, BaseM):
        return _bases_equal(p, g)
    if isinstance(g, RatioM) or isinstance(p, RatioM):
        return _ratios_equal(p, g)
    if isinstance(g, RelationM) or isinstance(p, RelationM):
        return isinstance(p, RelationM) and isinstance(g, RelationM) and _relations_equal(p, g)
    if isinstance(p, ValueM) and isinstance(g, ValueM):
        return values_same(p, g)
    return False


def _text(m: object) -> str | None:
    if isinstance(m, TextM):
        return m.key
    if isinstance(m, ValueM):
        return text_key(m.raw)
    return None


# nouns that name what kind of answer a word is: "even function" answers "even", "east direction" answers "east"
CATEGORY_NOUNS = {"function", "direction", "shape", "curve", "conic", "graph", "figure"}


def _texts_equal(p: object, g: object) -> bool:
    if _text(p) is not None and _text(p) == _text(g):
        return True
    if not (isinstance(p, TextM) and isinstance(g, TextM)) or not g.words:
        return False
    extra = p.words[len(g.words) :]
    return p.words[: len(g.words)] == g.words and bool(extra) and all(w in CATEGORY_NOUNS for w in extra)


def _words(text: str) -> tuple:
    text = re.sub(r"\\(?:text\w*|mbox|mathrm|mathbf|textbf)", "", text).lower()
    words = re.findall(r"[0-9a-z]+", text)
    return tuple(words[1:] if words and words[0] in ("a", "an", "the") else words)


def _labelled_equal(p: object, g: object) -> bool:
    if isinstance(p, LabelledM) and isinstance(g, LabelledM):
        if p.label == g.label:
            return equivalent(p.inner, g.inner)
        if g.names and isinstance(p, LabelledM):
            return False
        if p.lhs is not None and g.lhs is not None:
            return _as_equation(p) is not None and equations_equal(_as_equation(p), _as_equation(g))
        return False
    if isinstance(g, LabelledM):
        if isinstance(p, EquationM):
            eq = _as_equation(g)
            return eq is not None and equations_equal(p, eq)
        if isinstance(p, ManyM) and p.kind == "record" and g.names:
            return _records_equal(p, _record(g))
        return equivalent(p, g.inner)
    if isinstance(g, EquationM):
        eq = _as_equation(p)
        return eq is not None and equations_equal(eq, g)
    if isinstance(g, RegionM) and isinstance(p.inner, RegionM):
        return _regions_equal(RegionM(p.label, p.inner.pieces), g)
    return equivalent(p.inner, g)


def _names(raw: str) -> bool:
    """`b + c`, `f(-2) + f(-1)`, `a^2 + b^2` name a quantity; `x + 1` or `2a + b` is an equation still to solve."""
    rest = re.sub(r"[A-Za-z]\s*\([^()]*\)|_\{[^{}]*\}|_\w|\^\{?\d+\}?", "", raw)
    return bool(raw.strip()) and not re.search(r"\d", rest)


def _as_equation(m: LabelledM) -> EquationM | None:
    if m.lhs is None or m.rhs is None or isinstance(m.lhs, Seq) or isinstance(m.rhs, Seq | Rel):
        return None
    return EquationM(m.lhs, m.rhs)


def _record(m: LabelledM) -> ManyM:
    """(p, q) = (3, 2) as the record p = 3, q = 2."""
    inner = m.inner
    if not (isinstance(inner, ManyM) and inner.kind in ("pair", "tuple") and len(inner.items) == len(m.names)):
        return ManyM([m], "record")
    return ManyM([LabelledM(n, v) for n, v in zip(m.names, inner.items, strict=True)], "record")


def _records_equal(p: ManyM, g: ManyM) -> bool:
    gold = {m.label: m.inner for m in g.items}
    pred = {m.label: m.inner for m in p.items}
    return set(gold) == set(pred) and all(equivalent(pred[k], gold[k]) for k in gold)


def equations_equal(p: EquationM, g: EquationM) -> bool:
    """The same equation up to rearrangement and a nonzero constant factor (y = 2x + 1 and 2x - y + 1 = 0)."""
    fp = Add(((1, p.lhs), (-1, p.rhs)))
    fg = Add(((1, g.lhs), (-1, g.rhs)))
    names = sorted(free_symbols(fp) | free_symbols(fg))
    if not names:
        return False
    ratio = None
    informative = 0
    for k in range(5):
        env = _environment(names, k, set())
        try:
            a, b = evaluate(fp, dict(env)), evaluate(fg, dict(env))
        except EvalError:
            continue
        if isinstance(a, list) or isinstance(b, list):
            return False
        zero_a, zero_b = values_equal(a, Fraction(0)), values_equal(b, Fraction(0))
        if zero_a or zero_b:
            if zero_a != zero_b:
                return False
            continue
        r = to_mp(a) / to_mp(b)
        if ratio is None:
            ratio = r
        elif not values_equal(r, ratio):
            return False
        informative += 1
    return informative >= 2


def _regions_equal(p: object, g: object) -> bool:
    rp, rg = _as_region(p), _as_region(g)
    if rp is None or rg is None:
        return False
    if rp.var and rg.var and rp.var != rg.var:
        return False
    if len(rp.pieces) != len(rg.pieces):
        return False
    for (a, b, c, d), (e, f, h, i) in zip(rp.pieces, rg.pieces, strict=True):
        if (c, d) != (h, i) or not values_equal(a, e) or not values_equal(b, f):
            return False
    return True


def _as_region(m: object) -> RegionM | None:
    if isinstance(m, RegionM):
        return m
    if isinstance(m, LabelledM) and isinstance(m.inner, RegionM):
        return RegionM(m.label, m.inner.pieces)
    if isinstance(m, ManyM) and m.kind == "pair":
        lo, hi = (_real_constant(x.node) if isinstance(x, ValueM) else None for x in m.items)
        if lo is None or hi is None or to_mp(lo) >= to_mp(hi):
            return None
        return RegionM(None, [_piece(lo, hi, False, False)])
    if isinstance(m, ManyM) and m.kind == "set":
        try:
            return points_region(m)
        except Refused:
            return None
    return None


def _many_equal(p: object, g: object) -> bool:
    if not isinstance(p, ManyM):
        return _single(g) is not None and equivalent(p, _single(g))
    if not isinstance(g, ManyM):
        if isinstance(g, ValueM) and isinstance(g.node, Matrix) and p.kind in ("pair", "tuple", "list"):
            return _vector_equal(p, g)
        return _single(p) is not None and equivalent(_single(p), g)
    if g.kind == "record" or p.kind == "record":
        if g.kind == "record" and p.kind == "record":
            return _records_equal(p, g)
        return _positional(p, g)
    ordered = ("tuple", "pair")
    if g.kind in ordered or p.kind in ordered:
        if g.kind == "set" or p.kind == "set" or "alternatives" in (g.kind, p.kind):
            return False
        return _positional(p, g)
    return _matched(p.items, g.items)


def _single(m: ManyM) -> object | None:
    """The one answer in a set, list or alternatives whose items are all the same answer (`5, 5`, `{5}`,
    `15\\frac{39}{40} or \\frac{639}{40}`), else None. A tuple of one is not a single answer."""
    if m.kind in ("tuple", "pair", "record"):
        return None
    distinct = _distinct(m.items)
    return distinct[0] if len(distinct) == 1 else None


def _positional(p: ManyM, g: ManyM) -> bool:
    pi = [m.inner if isinstance(m, LabelledM) and p.kind == "record" else m for m in p.items]
    gi = [m.inner if isinstance(m, LabelledM) and g.kind == "record" else m for m in g.items]
    return len(pi) == len(gi) and all(equivalent(a, b) for a, b in zip(pi, gi, strict=True))


def _vector_equal(p: ManyM, g: ValueM) -> bool:
    rows = g.node.rows
    if any(len(r) != 1 for r in rows) or len(rows) != len(p.items):
        return False
    return all(equivalent(a, ValueM(r[0])) for a, r in zip(p.items, rows, strict=True))


def _matched(pred: list, gold: list) -> bool:
    """Every item of each list equals an item of the other (duplicates ignored): sets compare as sets."""
    pred, gold = _distinct(pred), _distinct(gold)
    if len(pred) != len(gold):
        return False
    remaining = list(gold)
    for item in pred:
        for j, other in enumerate(remaining):
            if equivalent(item, other):
                del remaining[j]
                break
        else:
            return False
    return True


def _distinct(items: list) -> list:
    out: list = []
    for m in items:
        if not any(equivalent(m, o) for o in out):
            out.append(m)
    return out


def _bases_equal(p: object, g: object) -> bool:
    if isinstance(p, BaseM) and isinstance(g, BaseM):
        return p.base == g.base and p.digits == g.digits
    gold, pred = (g, p) if isinstance(g, BaseM) else (p, g)
    if isinstance(pred, ValueM) and isinstance(pred.node, Num) and not pred.node.decimal:
        return (pred.node.text.lstrip("0") or "0") == gold.digits  # 52 for 52_8: the base may go unwritten
    return False


def _ratios_equal(p: object, g: object) -> bool:
    if not (isinstance(p, RatioM) and isinstance(g, RatioM)) or len(p.parts) != len(g.parts):
        return False
    return all(expressions_equal(a, b) for a, b in zip(p.parts, g.parts, strict=True))


def _relations_equal(p: RelationM, g: RelationM) -> bool:
    def forward(m: RelationM) -> tuple[tuple, tuple]:
        if all(op in (">", ">=") for op in m.ops):
            return tuple(reversed(m.members)), tuple(_FLIP[op] for op in reversed(m.ops))
        return m.members, m.ops

    pm, po = forward(p)
    gm, go = forward(g)
    if po != go or len(pm) != len(gm):
        return False
    return all(expressions_equal(a, b) for a, b in zip(pm, gm, strict=True))


__all__ = ["Refused", "equivalent", "meaning", "text_key"]
