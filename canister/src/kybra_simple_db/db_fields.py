"""Typed entity fields (`String`, `Integer`, `Float`, `Boolean`, `Principal`, `Timestamp`).

Each validates strictly (no bool as int, no coercion of text), knows its constraints, default and
whether it is indexed, and describes itself for introspection.
"""

import math

from .db_errors import ValidationError

_PRINCIPAL_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


class Property:
    """Base descriptor: values live in the entity's `_data`, writes go through the entity's save path."""

    kind = "any"

    def __init__(self, default=None, indexed: bool = False, required: bool = False):
        self.name = None
        self.indexed = bool(indexed)
        self.required = bool(required)
        self.default = None
        if default is not None:
            self.default = self.validate(default, "default")

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return obj._get_field(self.name)

    def __set__(self, obj, value) -> None:
        obj._set_field(self.name, value)

    def check(self, value, label: str):
        """Kind-specific validation of a non-None value; returns the value to store."""
        return value

    def validate(self, value, label: str = None):
        """The value to store, or a ValidationError saying what is wrong with it."""
        label = label or self.name
        if value is None:
            if self.required:
                raise ValidationError(f"{label} is required")
            return None
        return self.check(value, label)

    def bounds(self) -> tuple:
        """(min, max) constraints as numbers or None (text: lengths; numbers: values)."""
        return (None, None)

    def describe(self) -> dict:
        low, high = self.bounds()
        return {
            "name": self.name,
            "kind": self.kind,
            "required": self.required,
            "default": self.default,
            "min": low,
            "max": high,
            "indexed": self.indexed,
        }


class String(Property):
    """Text with optional minimum and maximum length (in characters)."""

    kind = "text"

    def __init__(self, min_length=None, max_length=None, default=None, indexed=False, required=False):
        self.min_length = min_length
        self.max_length = max_length
        super().__init__(default=default, indexed=indexed, required=required)

    def check(self, value, label):
        if not isinstance(value, str):
            raise ValidationError(f"{label} must be text, not {type(value).__name__}")
        if self.min_length is not None and len(value) < self.min_length:
            raise ValidationError(f"{label} must be at least {self.min_length} characters")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValidationError(f"{label} must be at most {self.max_length} characters")
        return value

    def bounds(self):
        return (self.min_length, self.max_length)


class _Number(Property):
    def __init__(self, min_value=None, max_value=None, default=None, indexed=False, required=False):
        self.min_value = min_value
        self.max_value = max_value
        super().__init__(default=default, indexed=indexed, required=required)

    def check_range(self, value, label):
        if self.min_value is not None and value < self.min_value:
            raise ValidationError(f"{label} must be >= {self.min_value}")
        if self.max_value is not None and value > self.max_value:
            raise ValidationError(f"{label} must be <= {self.max_value}")
        return value

    def bounds(self):
        return (self.min_value, self.max_value)


class Integer(_Number):
    """A whole number (bool is refused) with optional bounds."""

    kind = "int"

    def check(self, value, label):
        if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValidationError(f"{label} must be an integer, not {type(value).__name__}")
        # check_range, inline (the common case: in range)
        low = self.min_value
        high = self.max_value
        if (low is not None and value < low) or (high is not None and value > high):
            return self.check_range(value, label)
        return value


class Float(_Number):
    """A finite real number; ints are accepted and stored as floats, bool is refused."""

    kind = "float"

    def check(self, value, label):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError(f"{label} must be a number, not {type(value).__name__}")
        try:
            value = float(value)
        except OverflowError:
            raise ValidationError(f"{label} is outside the float range") from None
        if math.isnan(value) or math.isinf(value):
            raise ValidationError(f"{label} must be finite")
        return self.check_range(value, label)


class Boolean(Property):
    """True or False only (no truthiness: "maybe" is refused)."""

    kind = "bool"

    def check(self, value, label):
        if not isinstance(value, bool):
            raise ValidationError(f"{label} must be True or False, not {type(value).__name__}")
        return value


class JsonValue(Property):
    """An undeclared attribute of an open entity class: any JSON value (text, finite number, bool,
    None, lists and dicts of them with text keys), at most MAX_JSON_DEPTH deep."""

    kind = "json"

    def check(self, value, label, depth: int = 0):
        if depth > MAX_JSON_DEPTH:
            raise ValidationError(f"{label} is nested too deeply")
        if value is None or isinstance(value, (str, bool, int)):
            return value
        if isinstance(value, float):
            if math.isnan(value) or math.isinf(value):
                raise ValidationError(f"{label} must be finite")
            return value
        if isinstance(value, (list, tuple)):
            return [self.check(v, label, depth + 1) for v in value]
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    raise ValidationError(f"{label}: keys must be text")
                out[k] = self.check(v, label, depth + 1)
            return out
        raise ValidationError(f"{label} must be a JSON value, not {type(value).__name__}")


MAX_JSON_DEPTH = 20
JSON_VALUE = JsonValue()


class Principal(String):
    """A principal in its text form (lowercase base32 groups separated by dashes)."""

    kind = "principal"

    def __init__(self, default=None, indexed=False, required=False):
        super().__init__(min_length=1, max_length=63, default=default, indexed=indexed, required=required)

    def check(self, value, label):
        value = super().check(value, label)
        if not set(value) <= _PRINCIPAL_CHARS or value.startswith("-") or value.endswith("-"):
            raise ValidationError(f"{label} must be a principal's text form")
        return value


class Timestamp(Integer):
    """Nanoseconds since the Unix epoch (a non-negative integer)."""

    kind = "timestamp"

    def __init__(self, min_value=0, max_value=None, default=None, indexed=False, required=False):
        super().__init__(min_value=min_value, max_value=max_value, default=default, indexed=indexed,
                         required=required)
