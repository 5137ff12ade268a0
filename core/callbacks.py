"""Typed button data: one small class per kind of button, packed into the text a channel carries
(Telegram's callback_data, at most 64 bytes) and unpacked, checked, when the button comes back.

    class JoinTeam(CallbackData, prefix="vj"):
        team: str

    JoinTeam("hongxing").pack() == "vj:hongxing"
    JoinTeam.unpack("vj:hongxing") == JoinTeam("hongxing")   # None for anything malformed

The wire format is `prefix:field:field`, the same as buttons sent before this module existed, so
buttons already in users' chats keep working. Fields are `str` (no `:` except in the last one)
or `int` (digits, at most 12); neither may be empty. Button data comes from the user's side:
never trusted.
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, ClassVar, Self, dataclass_transform

MAX_BYTES = 64
SEP = ":"
_MAX_INT_DIGITS = 12


class CallbackDataError(ValueError):
    """Button data that cannot be packed (too long, or a separator inside a field)."""


def prefix_of(data: str) -> str:
    """The kind a button's data claims to be (the router looks the handler up by it)."""
    return data.split(SEP, 1)[0]


@dataclass_transform(frozen_default=True)
class CallbackData:
    """Base of every button kind; subclasses are frozen dataclasses with str and int fields."""

    prefix: ClassVar[str]
    _types: ClassVar[tuple[type, ...]]

    def __init_subclass__(cls, *, prefix: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not prefix or SEP in prefix:
            raise TypeError(f"bad button prefix {prefix!r}")
        cls.prefix = prefix
        dataclasses.dataclass(frozen=True)(cls)
        hints = typing.get_type_hints(cls)
        types = tuple(hints[f.name] for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        if any(t not in (str, int) for t in types):
            raise TypeError(f"{cls.__name__}: button fields must be str or int")
        cls._types = types

    def pack(self) -> str:
        raw = [getattr(self, f.name) for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        if any(isinstance(v, int) and not 0 <= v < 10 ** _MAX_INT_DIGITS for v in raw):
            raise CallbackDataError(f"{type(self).__name__}: a number out of range")
        values = [str(v) for v in raw]
        if any(SEP in v for v in values[:-1]):
            raise CallbackDataError(f"{type(self).__name__}: a field contains {SEP!r}")
        if any(not v for v in values):
            raise CallbackDataError(f"{type(self).__name__}: an empty field")
        data = SEP.join([self.prefix, *values]) if values else self.prefix + SEP
        if len(data.encode("utf-8")) > MAX_BYTES:
            raise CallbackDataError(f"{type(self).__name__}: {len(data.encode())} bytes "
                                    f"(at most {MAX_BYTES})")
        return data

    @classmethod
    def unpack(cls, data: str) -> Self | None:
        """The button, or None when the data is not a well-formed button of this kind."""
        prefix, _sep, rest = data.partition(SEP)
        if prefix != cls.prefix or len(data.encode("utf-8")) > MAX_BYTES:
            return None
        if not cls._types:
            return cls() if rest == "" else None
        raw = rest.split(SEP, len(cls._types) - 1)
        if len(raw) != len(cls._types):
            return None
        values: list[object] = []
        for kind, value in zip(cls._types, raw, strict=True):
            if kind is int:
                if not value.isdigit() or not value.isascii() or len(value) > _MAX_INT_DIGITS:
                    return None
                values.append(int(value))
            elif value:
                values.append(value)
            else:
                return None  # an empty field names nothing
        return cls(*values)
