"""The boundary of the code reward: only plain data crosses it, rebuilt by a strict decoder, and nothing the
sandbox sends can make the grader raise anything but an ordinary Exception or CallFailed.

`decode` runs in the reward worker on bytes the untrusted program may have written itself, so each malformed or
hostile input below must raise PlainDataError (never build an object of another type, never run code, never hang).
"""

import builtins
import collections
import json
import time

import pytest

from rewards.code_harness import MAX_DEPTH, PlainDataError, decode, encode
from rewards.code_session import RemoteError, _rebuilt_exception


@pytest.mark.parametrize(
    "data",
    [
        {"a": 1},  # JSON objects never carry values
        [1, 2],  # an untagged list
        [],
        ["pickle", "gASVCAAAAAAAAACMBHRpbWWUhZQu"],
        ["object", "os.system"],
        ["eval", "__import__('os')"],
        ["int", 5],
        ["int", "0x_ff; import os"],
        ["tuple", "abc"],
        ["tuple", [1], [2]],
        ["complex", "1", "2"],
        ["bytes", "not base64!"],
        ["set", [["list", []]]],  # an unhashable member
        ["dict", [[["list", []], 1]]],  # an unhashable key
        ["dict", [[1, 2, 3]]],
        ["Fraction", 1, 0],
        ["range", 1, 2.5, 1],
        ["defaultdict", "exec", []],
        ["defaultdict", "system", []],
        ["deque", [1], "3"],
        ["Decimal", "__import__"],
    ],
)
def test_the_decoder_refuses_anything_malformed_or_unknown(data):
    with pytest.raises(PlainDataError):
        decode(json.loads(json.dumps(data)))


def test_the_decoder_refuses_deep_nesting():
    deep = 1
    for _ in range(MAX_DEPTH + 5):
        deep = ["list", [deep]]
    with pytest.raises(PlainDataError, match="deep"):
        decode(deep)


def test_rebuilding_a_set_whose_keys_all_collide_stops_at_the_deadline():
    # every multiple of 2**61 - 1 hashes to 0: building this set takes quadratic time (about a minute)
    colliding = ["set", [k * (2**61 - 1) for k in range(1, 60_000)]]
    start = time.monotonic()
    with pytest.raises(PlainDataError, match="too long"):
        decode(colliding, deadline=start + 0.3)
    assert time.monotonic() - start < 3


class Str(str):
    pass


class Anything:
    def __eq__(self, other):
        return True


def endless():
    while True:
        yield 1


def contains_itself():
    items = []
    items.append(items)
    return items


@pytest.mark.parametrize(
    "value",
    [Str("x"), [Str("x")], {1: Anything()}, Anything(), len, object(), contains_itself(), endless(), type],
    ids=["str subclass", "nested subclass", "object in a dict", "object", "function", "bare object", "cycle",
         "endless generator", "class"],
)  # fmt: skip
def test_the_encoder_refuses_anything_but_the_exact_plain_types(value):
    with pytest.raises((PlainDataError, RecursionError)):
        encode(value)


def test_every_type_survives_the_round_trip_exactly():
    values = [
        None, True, 0, -(2**200), 2**53, 1.5, -0.0, float("inf"), 1 - 2j, "naïve \ud800", b"\x00", bytearray(b"x"),
        [1, (2,)], (1, [2]), {1, 2}, frozenset({(1,)}), {(1, 2): {3}}, range(2, 9, 3),
        collections.OrderedDict(b=1, a=2), collections.Counter("aab"), collections.deque([1], maxlen=2),
    ]  # fmt: skip
    for value in values:
        back = decode(json.loads(json.dumps(encode(value))))
        assert type(back) is type(value) and back == value and repr(back) == repr(value)


@pytest.mark.parametrize(
    "name",
    ["KeyboardInterrupt", "SystemExit", "GeneratorExit", "BaseException", "BaseExceptionGroup", "print",
     "__import__", "CallFailed", "ExceptionGroup", 5, None, ["ValueError"]],
)  # fmt: skip
def test_a_claimed_exception_is_never_anything_but_an_ordinary_exception(name):
    exc = _rebuilt_exception({"raised": name, "type": "X", "message": "m"})
    assert type(exc) is RemoteError


def test_builtin_exceptions_come_back_as_themselves():
    for name in ("ValueError", "KeyError", "ZeroDivisionError", "UnicodeDecodeError", "AssertionError", "OSError"):
        exc = _rebuilt_exception({"raised": name, "message": "m"})
        assert type(exc) is getattr(builtins, name)
