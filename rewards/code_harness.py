"""The server that runs inside the sandbox for assert-style tests, and the plain-data codec both sides share.

This file is copied into the sandbox as `/sandbox/harness.py` and run there by the sandbox's interpreter, so it
uses the standard library only (nothing from rlvr) and must run on any Python 3.8+. It loads the untrusted
program into a fresh module, then answers the grader's requests on a private pair of descriptors: "call top-level
name N with these arguments" and "send the value of top-level name N". Requests are length-prefixed `marshal`
(written by the grader, so safe to load here); replies are JSON lines (the grader parses them with `json`, never
with marshal or pickle). The program's stdin is empty and its stdout and stderr go to the log, never the channel.

Nothing here is secret or trusted: the program runs in this same process and can read, patch or impersonate this
harness. It gains nothing by it, because the grader never sends an expected value into the sandbox and believes
nothing that comes back but plain data (see `rewards/code_session.py`).

The codec (`encode`, `decode`): values cross the boundary as JSON-ready data in which every container is tagged,
so a tuple stays a tuple and a set a set. `decode` builds genuine builtin (and a few standard-library) objects
from it, with no pickle and no eval; it checks every shape and refuses anything else, nesting deeper than
`MAX_DEPTH` included. Which types cross, exactly (subclasses do not):

    None bool int float complex str bytes bytearray list tuple set frozenset dict range
    collections.OrderedDict/Counter/defaultdict/deque, fractions.Fraction, decimal.Decimal,
    dict views (keys/values/items), and iterators (generators, map, zip...: materialised, rebuilt as `iter(list)`)

Start-up time matters (one harness per completion): this module imports nothing that Python has not loaded
already at start-up except `marshal`, and `_json` when present (the `json` package would pull in `re` and `enum`
and add half again to the interpreter's start-up); the standard-library types are looked up lazily.
"""

import builtins
import itertools
import marshal
import os
import sys
import time
import types

MAX_DEPTH = 100  # containers nested deeper than this (or containing themselves) are not plain data
MAX_ITERATOR_ITEMS = 100_000  # an iterator with more items than this (an endless generator, say) is not either
_JSON_INT = 2**53  # ints at least this large travel as hex text, which has no digit limit
_FACTORIES = {f.__name__: f for f in (int, float, complex, str, bytes, bool, list, tuple, dict, set, frozenset)}
_DICT_VIEWS = {type({}.keys()): "dict_keys", type({}.values()): "dict_values", type({}.items()): "dict_items"}
# standard-library types that cross, by module; a value of one of them implies its module is loaded already
_LIBRARY_TYPES = {
    "collections": ("OrderedDict", "Counter", "defaultdict", "deque"),
    "fractions": ("Fraction",),
    "decimal": ("Decimal",),
}


class PlainDataError(ValueError):
    """A value is not plain data, or an encoding is malformed."""


def _library_type(kind):
    """The name under which a standard-library type crosses, or None."""
    module = getattr(kind, "__module__", None)
    if not isinstance(module, str) or module not in _LIBRARY_TYPES:
        return None
    loaded = sys.modules.get(module)
    for name in _LIBRARY_TYPES[module]:
        if getattr(loaded, name, None) is kind:
            return name
    return None


def _library(module, name):
    """A standard-library type, for rebuilding (imported on first use)."""
    return getattr(__import__(module), name)


def encode(value, depth=0):
    """`value` as JSON-ready data; raises PlainDataError for anything but the exact types listed above."""
    if depth > MAX_DEPTH:
        raise PlainDataError(f"nested more than {MAX_DEPTH} deep, or contains itself")
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is float:
        return value  # JSON keeps these apart: a float always has a '.', an 'e', or is NaN/Infinity
    if kind is int:
        return value if -_JSON_INT < value < _JSON_INT else ["int", format(value, "x")]
    if kind is complex:
        return ["complex", value.real, value.imag]
    if kind is bytes or kind is bytearray:
        return [kind.__name__, value.hex()]
    if kind is list or kind is tuple or kind is set or kind is frozenset:
        return [kind.__name__, [encode(item, depth + 1) for item in value]]
    if kind is dict:
        return ["dict", _encode_pairs(value.items(), depth)]
    if kind is range:
        return ["range", encode(value.start), encode(value.stop), encode(value.step)]
    if kind in _DICT_VIEWS:
        if kind is type({}.items()):
            return ["dict_items", _encode_pairs(value, depth)]
        return [_DICT_VIEWS[kind], [encode(item, depth + 1) for item in value]]
    library = _library_type(kind)
    if library in ("OrderedDict", "Counter"):
        return [library, _encode_pairs(value.items(), depth)]
    if library == "defaultdict":
        factory = value.default_factory
        name = factory.__name__ if _FACTORIES.get(getattr(factory, "__name__", None)) is factory else None
        return ["defaultdict", name, _encode_pairs(value.items(), depth)]
    if library == "deque":
        return ["deque", [encode(item, depth + 1) for item in value], value.maxlen]
    if library == "Fraction":
        return ["Fraction", encode(value.numerator), encode(value.denominator)]
    if library == "Decimal":
        return ["Decimal", str(value)]
    if hasattr(kind, "__next__") and hasattr(kind, "__iter__"):  # an iterator (what collections.abc checks)
        items = list(itertools.islice(value, MAX_ITERATOR_ITEMS + 1))
        if len(items) > MAX_ITERATOR_ITEMS:
            raise PlainDataError(f"an iterator with more than {MAX_ITERATOR_ITEMS} items")
        return ["iterator", [encode(item, depth + 1) for item in items]]
    raise PlainDataError(f"a {kind.__name__} is not plain data")


def _encode_pairs(items, depth):
    return [[encode(key, depth + 1), encode(item, depth + 1)] for key, item in items]


class _Clock:
    """Rebuilding a set or dict whose keys all collide in the hash table takes quadratic time: check the time
    every few hundred insertions and give up at the deadline."""

    def __init__(self, deadline):
        self.deadline = deadline
        self.ticks = 0

    def tick(self):
        self.ticks += 1
        if self.deadline is not None and self.ticks % 256 == 0 and time.monotonic() > self.deadline:
            raise PlainDataError("took too long to rebuild")


def decode(data, deadline=None):
    """The value that `encode` turned into `data` (after a JSON round trip), built only from builtin and
    standard-library constructors; PlainDataError for anything malformed or unexpected."""
    try:
        return _decode(data, 0, _Clock(deadline))
    except PlainDataError:
        raise
    except Exception as exc:  # a constructor refused its parts (unhashable key, bad base64, zero denominator...)
        raise PlainDataError(f"malformed plain data: {type(exc).__name__}: {exc}") from None


def _decode(data, depth, clock):
    if depth > MAX_DEPTH:
        raise PlainDataError(f"nested more than {MAX_DEPTH} deep")
    kind = type(data)
    if data is None or kind is bool or kind is int or kind is float or kind is str:
        return data
    if kind is not list or not data or type(data[0]) is not str or data[0] not in _BUILDERS:
        raise PlainDataError(f"not a tagged value: {str(data)[:80]}")
    return _BUILDERS[data[0]](data[1:], depth + 1, clock)


def _parts(parts, *kinds):
    """`parts`, checked to be one JSON value of each of `kinds` (tuples of JSON types)."""
    if len(parts) != len(kinds) or any(type(parts[i]) not in kinds[i] for i in range(len(kinds))):
        raise PlainDataError(f"malformed parts: {str(parts)[:80]}")
    return parts


def _list(items, depth, clock):
    if type(items) is not list:
        raise PlainDataError("malformed items")
    decoded = []
    for item in items:
        clock.tick()
        decoded.append(_decode(item, depth, clock))
    return decoded


def _dict(items, depth, clock):
    if type(items) is not list:
        raise PlainDataError("malformed entries")
    built = {}
    for pair in items:
        if type(pair) is not list or len(pair) != 2:
            raise PlainDataError("a mapping entry is not a [key, value] pair")
        clock.tick()
        built[_decode(pair[0], depth, clock)] = _decode(pair[1], depth, clock)
    return built


def _set(items, depth, clock):
    built = set()
    for item in _list(items, depth, clock):
        clock.tick()
        built.add(item)
    return built


def _int_part(part, depth, clock):
    value = _decode(part, depth, clock)
    if type(value) is not int:
        raise PlainDataError(f"expected an int, got {type(value).__name__}")
    return value


def _hex_int(parts, depth, clock):
    (text,) = _parts(parts, (str,))
    if not text.lstrip("-").isalnum():
        raise PlainDataError("malformed int")
    return int(text, 16)


def _defaultdict(parts, depth, clock):
    name, items = _parts(parts, (str, type(None)), (list,))
    if name is not None and name not in _FACTORIES:
        raise PlainDataError(f"not an allowed defaultdict factory: {name}")
    return _library("collections", "defaultdict")(_FACTORIES.get(name), _dict(items, depth, clock))


def _deque(parts, depth, clock):
    items, maxlen = _parts(parts, (list,), (int, type(None)))
    return _library("collections", "deque")(_list(items, depth, clock), maxlen)


def _ints(parts, depth, clock, count):
    return [_int_part(part, depth, clock) for part in _parts(parts, *[(int, list)] * count)]


def _keys(items, depth, clock):
    built = {}
    for key in _list(items, depth, clock):
        clock.tick()
        built[key] = None
    return built.keys()


def _one_list(build):
    """A builder for values encoded as [tag, items]."""
    return lambda parts, depth, clock: build(_parts(parts, (list,))[0], depth, clock)


_BUILDERS = {
    "int": _hex_int,
    "complex": lambda parts, depth, clock: complex(*_parts(parts, (float,), (float,))),
    "bytes": lambda parts, depth, clock: bytes.fromhex(_parts(parts, (str,))[0]),
    "bytearray": lambda parts, depth, clock: bytearray.fromhex(_parts(parts, (str,))[0]),
    "list": _one_list(_list),
    "tuple": _one_list(lambda items, depth, clock: tuple(_list(items, depth, clock))),
    "set": _one_list(_set),
    "frozenset": _one_list(lambda items, depth, clock: frozenset(_set(items, depth, clock))),
    "dict": _one_list(_dict),
    "OrderedDict": _one_list(
        lambda items, depth, clock: _library("collections", "OrderedDict")(_dict(items, depth, clock))
    ),
    "Counter": _one_list(lambda items, depth, clock: _library("collections", "Counter")(_dict(items, depth, clock))),
    "defaultdict": _defaultdict,
    "deque": _deque,
    "range": lambda parts, depth, clock: range(*_ints(parts, depth, clock, 3)),
    "Fraction": lambda parts, depth, clock: _library("fractions", "Fraction")(*_ints(parts, depth, clock, 2)),
    "Decimal": lambda parts, depth, clock: _library("decimal", "Decimal")(_parts(parts, (str,))[0]),
    "iterator": _one_list(lambda items, depth, clock: iter(_list(items, depth, clock))),
    "dict_keys": _one_list(_keys),
    "dict_values": _one_list(lambda items, depth, clock: dict(enumerate(_list(items, depth, clock))).values()),
    "dict_items": _one_list(lambda items, depth, clock: _dict(items, depth, clock).items()),
}


# ---------------------------------------------------------------------------------------------------------------
# The server (runs in the sandbox)

_PLAIN_TYPES = (type(None), bool, int, float, complex, str, bytes, bytearray, list, tuple, set, frozenset, dict, range)


def _exports(namespace):
    """What the grader may bind in a test's namespace: {name: [kind, origin]}. kind is "module" (origin: its
    name), "callable" (origin: its `__module__`) or "value" (plain data, fetched with a "get" request)."""
    names = {}
    for name, value in list(namespace.items()):
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("__"):
            continue
        try:
            if isinstance(value, types.ModuleType):
                names[name] = ["module", str(value.__name__)]
            elif callable(value):
                origin = getattr(value, "__module__", None)
                names[name] = ["callable", origin if isinstance(origin, str) else None]
            elif type(value) in _PLAIN_TYPES or _library_type(type(value)) not in (None, "deque"):
                names[name] = ["value", None]
        except Exception:
            continue
    return names


def _builtin_exception(exc):
    """The first builtin Exception class in the exception's ancestry, by name (None: only its own classes)."""
    for klass in type(exc).__mro__:
        if getattr(builtins, klass.__name__, None) is klass and issubclass(klass, Exception):
            return klass.__name__
    return None


def _message(exc):
    try:
        return str(exc)[:1000]
    except Exception:
        return ""


def _answer(namespace, request):
    """The reply to one request (without its id)."""
    name = request.get("call", request.get("get"))
    if name not in namespace:
        return {"failed": f"the program has no top-level {name!r}"}
    try:
        if "get" in request:
            value = namespace[name]
        else:
            args = [decode(arg) for arg in request["args"]]
            kwargs = {key: decode(arg) for key, arg in request["kwargs"]}
            value = namespace[name](*args, **kwargs)
    except (SystemExit, KeyboardInterrupt, GeneratorExit) as exc:
        return {"failed": f"{name} ended with {type(exc).__name__}"}
    except BaseException as exc:
        return {"raised": _builtin_exception(exc), "type": type(exc).__name__, "message": _message(exc)}
    try:
        return {"value": encode(value)}
    except (PlainDataError, RecursionError) as exc:
        return {"failed": f"{name} returned something that is not plain data: {exc}"}


try:
    from _json import encode_basestring_ascii as _encode_string
except ImportError:  # a Python built without the accelerator: the json package's own, slower to import
    from json.encoder import py_encode_basestring_ascii as _encode_string


def to_json(value):
    """JSON text for a reply: str, small int, float (NaN and Infinity as Python's json writes them), bool, None,
    list, and dict with str keys. Nested no deeper than `encode` allows."""
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if value is None or kind is bool:
        return {None: "null", True: "true", False: "false"}[value]
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    if kind is list:
        return "[" + ",".join([to_json(item) for item in value]) + "]"
    if kind is dict:
        return "{" + ",".join([_encode_string(key) + ":" + to_json(item) for key, item in value.items()]) + "}"
    raise PlainDataError(f"cannot write a {kind.__name__} as JSON")


def read_request(stream):
    """The next request (a dict), or None when the grader closed the channel."""
    header = stream.read(4)
    if len(header) < 4:
        return None
    return marshal.loads(stream.read(int.from_bytes(header, "big")))


def serve(program_path):
    """Load the program, then answer requests until the grader closes the channel."""
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.dup(1)
    empty = os.open(os.devnull, os.O_RDONLY)
    os.dup2(empty, 0)  # the program's stdin is empty
    os.close(empty)
    os.dup2(2, 1)  # and its prints go to the log

    def send(message):
        data = memoryview((to_json(message) + "\n").encode())
        while data:
            data = data[os.write(replies, data) :]

    module = types.ModuleType("solution")  # not "__main__": like the usual harnesses, the main guard does not run
    module.__file__ = program_path
    sys.modules["solution"] = module
    sys.argv = [program_path]
    try:
        with open(program_path, encoding="utf-8") as file:
            source = file.read()
        exec(compile(source, program_path, "exec"), module.__dict__)
    except BaseException as exc:
        send({"ready": False, "error": f"{type(exc).__name__}: {_message(exc)}"[:1000]})
        return
    send({"ready": True, "names": _exports(module.__dict__)})
    while True:
        request = read_request(requests)
        if request is None:
            return
        reply = _answer(module.__dict__, request)
        reply["id"] = request["id"]
        try:
            send(reply)
        except (PlainDataError, RecursionError, ValueError, TypeError) as exc:  # cannot happen unless patched
            send({"id": request["id"], "failed": f"the reply did not serialise: {type(exc).__name__}"})


if __name__ == "__main__":
    serve(sys.argv[1])
