"""A named family of implementations: a read-only mapping name -> implementation.

Every family a recipe or an option picks by name (pruning criteria and scopes,
supermask optimizers, datasets, spike encodings, network variants) is one
``Registry`` in the package that owns it. Looking up a name it lacks raises
``UnknownNameError``, whose message lists the known names in their order.
This module imports nothing of neurodeploy.
"""
from __future__ import annotations

from typing import Iterator, Mapping, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError, ValueError):
    """A name a registry lacks: ``"{what} {name!r} is not one of: {known}"``.

    A ``KeyError`` (so ``in`` and ``get`` work as for a dict) and a
    ``ValueError`` (a bad value, as callers catch it); ``str`` is the message.
    """

    def __init__(self, what: str, name: object, known: tuple[str, ...]) -> None:
        super().__init__(f"{what} {name!r} is not one of: {', '.join(known)}")
        self.name, self.known = name, known

    def __str__(self) -> str:
        return str(self.args[0])


class Registry(Mapping[str, T]):
    """The implementations of one family by name, in the order given.

    kind: what a name names, for the error (``"pruning criterion"``).
    """

    def __init__(self, kind: str, entries: Mapping[str, T]) -> None:
        self.kind = kind
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> T:
        return self.lookup(name, self.kind)

    def lookup(self, name: str, what: str) -> T:
        """The implementation named ``name``; ``UnknownNameError`` starting with ``what``
        (a dotted recipe key and ``=``, an option and ``:``) when there is none."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(what, name, tuple(self._entries)) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"
