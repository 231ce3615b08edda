"""A name -> function table per kind of algorithm option, the one place each option's values are defined.

    ADV_SCALES = Registry("algo.adv_scale")

    @ADV_SCALES.register("group_std")
    def group_std(centered, grouped, values, eps): ...

The config validates a value against the registry (`ADV_SCALES.check(value)`), the code looks the function up
(`ADV_SCALES[value]`), and adding a trick is one decorated function (verl's `core_algos.py` does the same).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

F = TypeVar("F", bound=Callable)


class Registry(Generic[F]):
    def __init__(self, option: str) -> None:
        self.option = option  # the config key, for error messages
        self._items: dict[str, F] = {}

    def register(self, name: str) -> Callable[[F], F]:
        def add(fn: F) -> F:
            if name in self._items:
                raise ValueError(f"{self.option}: {name!r} is registered twice")
            self._items[name] = fn
            return fn

        return add

    def names(self) -> tuple[str, ...]:
        return tuple(self._items)

    def check(self, name: str) -> str:
        """`name` if it is registered, else a ValueError listing what is."""
        if name not in self._items:
            raise ValueError(f"{self.option} must be one of {', '.join(self._items)}, got {name!r}")
        return name

    def __getitem__(self, name: str) -> F:
        return self._items[self.check(name)]

    def __contains__(self, name: object) -> bool:
        return name in self._items
