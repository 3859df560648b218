"""Marshmallow load and dump without the general machinery, for schemas that need none.

``Schema.load`` and ``Schema.dump`` spend most of their time orchestrating: an error store,
a closure and a ``try`` per field, an ``And`` of the validators made per value, accessor
and ``get_value`` indirections. For a schema with no hooks, a :class:`SchemaPlan` walks
the same fields in the same order and calls the same field methods (``_deserialize``,
``_serialize``, the validators), so it returns exactly what marshmallow returns; it is
three to five times faster (``bench/schemas.py``).

It never builds an error itself: at the first problem of any kind (a missing required
field, an unknown key, a conversion or validator that raises) it hands the data to
``Schema.load``, which finds every problem and reports them as it always does. A schema
the plan cannot follow exactly (hooks, ``partial``, ``many``, a dotted ``attribute``, a
field or schema that overrides the methods the plan skips) gets no plan: :meth:`for_schema`
returns ``None`` and the caller uses marshmallow as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, ValidationError, fields, missing
from marshmallow.validate import Validator

_ABSENT = object()
# The Field methods whose work a plan does itself; a field class that overrides one keeps
# its schema on marshmallow's own path.
_PLANNED_FIELD_METHODS = ("serialize", "deserialize", "get_value", "_validate", "_validate_missing")
_PLANNED_SCHEMA_METHODS = (
    "load",
    "dump",
    "_do_load",
    "_serialize",
    "_deserialize",
    "get_attribute",
)


def _overrides(obj: object, base: type, names: tuple[str, ...]) -> bool:
    cls = type(obj)
    return any(getattr(cls, name) is not getattr(base, name) for name in names)


class _LoadField:
    __slots__ = (
        "allow_none",
        "attr",
        "deserialize",
        "key",
        "load_default",
        "post_load",
        "pre_load",
        "required",
        "validators",
    )

    def __init__(self, attr: str, field: fields.Field[Any]) -> None:
        self.attr = field.attribute or attr  # where the value goes in the result
        self.key = field.data_key if field.data_key is not None else attr  # in the input
        self.required = field.required
        self.allow_none = field.allow_none
        self.load_default = field.load_default
        self.pre_load = tuple(field.pre_load)
        self.post_load = tuple(field.post_load)
        self.validators = tuple(
            (validator, isinstance(validator, Validator)) for validator in field.validators
        )
        key = self.key  # marshmallow names a field to _deserialize by its input key

        def deserialize(value: Any, data: Any, _field: Any = field, _key: str = key) -> Any:
            return _field._deserialize(value, _key, data)

        self.deserialize = deserialize


class _DumpField:
    __slots__ = ("attr", "check_attribute", "dump_default", "key", "name", "serialize")

    def __init__(self, attr: str, field: fields.Field[Any]) -> None:
        self.name = attr  # marshmallow names a field to _serialize by its attribute name
        self.attr = field.attribute if field.attribute is not None else attr  # in the object
        self.key = field.data_key if field.data_key is not None else attr  # in the output
        self.dump_default = field.dump_default
        self.check_attribute = field._CHECK_ATTRIBUTE
        self.serialize: Callable[[Any, str, Any], Any] = _fast_serializer(field)


def _fast_serializer(field: fields.Field[Any]) -> Callable[[Any, str, Any], Any]:
    """``field._serialize``, or a shortcut for values that need no conversion."""
    convert = field._serialize
    exact: type | None = None
    if type(field) is fields.String:
        exact = str
    elif type(field) is fields.Integer and not field.as_string:
        exact = int
    elif type(field) is fields.Float and not field.as_string:
        exact = float
    if exact is None:
        return convert

    def serialize(value: Any, name: str, obj: Any) -> Any:
        # String gives str(v), Integer int(v), Float float(v): the same object when v is
        # already exactly that type (a bool is not: it is an int subclass).
        if type(value) is exact:
            return value
        return convert(value, name, obj)

    return serialize


class SchemaPlan:
    """A faster ``load`` and ``dump`` for one schema instance; see the module docstring."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._dict = schema.dict_class
        self._unknown = schema.unknown
        self._load = [_LoadField(attr, field) for attr, field in schema.load_fields.items()]
        self._known = frozenset(field.key for field in self._load)
        self._dump = [_DumpField(attr, field) for attr, field in schema.dump_fields.items()]

    @classmethod
    def for_schema(cls, schema: Schema) -> SchemaPlan | None:
        """A plan for ``schema``, or ``None`` when marshmallow must do the work itself."""
        if any(schema._hooks.values()) or schema.many or schema.partial:
            return None
        if schema.unknown not in (RAISE, EXCLUDE, INCLUDE):
            return None
        if _overrides(schema, Schema, _PLANNED_SCHEMA_METHODS):
            return None
        for attr, field in schema.fields.items():
            if "." in (field.attribute or attr):
                return None
            if _overrides(field, fields.Field, _PLANNED_FIELD_METHODS):
                return None
        return cls(schema)

    def load(self, data: Any) -> Any:
        """What ``schema.load(data)`` returns.

        Raises:
            ValidationError: As ``schema.load(data)`` raises it.
        """
        if not isinstance(data, Mapping):
            return self.schema.load(data)
        try:
            return self._load_fast(data)
        except (ValidationError, _RefusedError):
            return self.schema.load(data)

    def _load_fast(self, data: Mapping[str, Any]) -> Any:
        result = self._dict()
        for field in self._load:
            value = data.get(field.key, missing)
            if value is missing:
                if field.required:
                    raise _RefusedError
                default = field.load_default
                value = default() if callable(default) else default
                if value is not missing:
                    result[field.attr] = value
                continue
            if value is None and not field.allow_none:
                raise _RefusedError
            for func in field.pre_load:
                value = func(value)
            if value is None and field.allow_none:
                result[field.attr] = None
                continue
            value = field.deserialize(value, data)
            for validator, is_validator in field.validators:
                if validator(value) is False and not is_validator:
                    raise _RefusedError
            for func in field.post_load:
                value = func(value)
            if value is not missing:
                result[field.attr] = value
        if self._unknown != EXCLUDE:
            for key in data:
                if key not in self._known:
                    if self._unknown == RAISE:
                        raise _RefusedError
                    result[key] = data[key]
        return result

    def dump(self, obj: Any, *, many: bool = False) -> Any:
        """What ``schema.dump(obj, many=many)`` returns."""
        if many and obj is not None:
            return [self._dump_one(item) for item in obj]
        return self._dump_one(obj)

    def _dump_one(self, obj: Any) -> Any:
        result = self._dict()
        plain = type(obj) is dict
        get_attribute = self.schema.get_attribute
        for field in self._dump:
            if field.check_attribute:
                if plain:
                    value = obj.get(field.attr, _ABSENT)
                    if value is _ABSENT:  # as marshmallow does: obj[key], then getattr
                        value = getattr(obj, field.attr, missing)
                else:
                    value = get_attribute(obj, field.attr, missing)
                if value is missing:
                    default = field.dump_default
                    value = default() if callable(default) else default
                    if value is missing:
                        continue
            else:
                value = None
            result[field.key] = field.serialize(value, field.name, obj)
        return result


class _RefusedError(Exception):
    """The fast path found a problem; marshmallow will name it."""
