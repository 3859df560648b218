"""SchemaPlan returns exactly what marshmallow returns, for any schema it accepts.

Random schemas (field kinds, options, validators, unknown policies) meet random documents;
the plan's load and dump must equal marshmallow's, errors and their messages included.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import (
    EXCLUDE,
    INCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
)

from scaffold.runtime.schemaplan import SchemaPlan

NAMES = ["a", "b", "c", "name", "items", "language", "x_y"]
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


class Inner(Schema):
    city = fields.String(required=True)
    zip = fields.Integer(load_default=0)


@st.composite
def field_specs(draw: st.DrawFn) -> fields.Field[Any]:
    kind = draw(
        st.sampled_from(
            ["str", "int", "strict-int", "float", "nan-float", "bool", "raw", "list", "nested"]
        )
    )
    options: dict[str, Any] = {}
    if draw(st.booleans()):
        options["required"] = True
    elif draw(st.booleans()):
        options["load_default"] = draw(json_scalars)
    if draw(st.booleans()):
        options["allow_none"] = draw(st.booleans())
    if draw(st.booleans()):
        options["dump_default"] = draw(json_scalars)
    if draw(st.integers(0, 3)) == 0:
        options["data_key"] = draw(st.sampled_from(["A", "B", "camelCase", "a"]))
    which = draw(st.integers(0, 5))
    if which == 0:
        options["load_only"] = True
    elif which == 1:
        options["dump_only"] = True
    validators: list[Any] = []
    if kind in ("str", "list") and draw(st.booleans()):
        validators.append(validate.Length(min=draw(st.integers(0, 2)), max=draw(st.integers(2, 6))))
    if kind in ("int", "strict-int", "float") and draw(st.booleans()):
        validators.append(validate.Range(min=draw(st.integers(-5, 0)), max=draw(st.integers(0, 5))))
    if draw(st.integers(0, 3)) == 0:
        validators.append(validate.OneOf(draw(st.lists(json_scalars, min_size=1, max_size=3))))
    if draw(st.integers(0, 5)) == 0:
        validators.append(lambda value: value != "no")  # a plain callable returning False
    if validators:
        options["validate"] = validators
    make = {
        "str": lambda: fields.String(**options),
        "int": lambda: fields.Integer(**options),
        "strict-int": lambda: fields.Integer(strict=True, **options),
        "float": lambda: fields.Float(**options),
        "nan-float": lambda: fields.Float(allow_nan=True, **options),
        "bool": lambda: fields.Boolean(**options),
        "raw": lambda: fields.Raw(**options),
        "list": lambda: fields.List(fields.String(), **options),
        "nested": lambda: fields.Nested(Inner, **options),
    }
    return make[kind]()


@st.composite
def schemas(draw: st.DrawFn) -> Schema:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    attrs: dict[str, Any] = {name: draw(field_specs()) for name in names}
    keys = [attrs[n].data_key or n for n in names]
    if len(set(keys)) != len(keys):  # two fields reading one key: marshmallow refuses it
        attrs = {names[0]: attrs[names[0]]}
        attrs[names[0]].data_key = None
    unknown = draw(st.sampled_from([RAISE, EXCLUDE, INCLUDE]))
    attrs["Meta"] = type("Meta", (), {"unknown": unknown})
    return type("Random", (Schema,), attrs)()


def same(a: Any, b: Any) -> bool:
    """Equality that takes NaN as equal to NaN, and compares types too."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except ValidationError as ex:
        return "invalid", ex.messages
    except Exception as ex:  # dump of a value the field cannot convert
        return "raised", type(ex)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=schemas(), data=st.data())
def test_load_matches_marshmallow(schema: Schema, data: st.DataObject) -> None:
    """Valid or not, a document loads to what marshmallow gives, or fails with its messages."""
    plan = SchemaPlan.for_schema(schema)
    assert plan is not None
    keys = [field.data_key or name for name, field in schema.fields.items()]
    document = data.draw(
        st.dictionaries(st.sampled_from([*keys, "unknown"]), json_values, max_size=5) | json_values
    )
    expected = outcome(lambda: schema.load(document))
    got = outcome(lambda: plan.load(document))
    assert got[0] == expected[0]
    assert same(got[1], expected[1])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=schemas(), data=st.data())
def test_dump_matches_marshmallow(schema: Schema, data: st.DataObject) -> None:
    """Any object dumps to what marshmallow gives (or raises what it raises)."""
    plan = SchemaPlan.for_schema(schema)
    assert plan is not None
    attrs = [field.attribute or name for name, field in schema.fields.items()]
    obj = data.draw(st.dictionaries(st.sampled_from([*attrs, "other"]), json_values, max_size=5))
    many = data.draw(st.booleans())
    value: Any = [obj, obj] if many else obj
    expected = outcome(lambda: schema.dump(value, many=many))
    got = outcome(lambda: plan.dump(value, many=many))
    assert got[0] == expected[0]
    assert same(got[1], expected[1])


def test_dump_reads_objects_as_marshmallow_does() -> None:
    """Attributes of objects, a missing one with its dump_default, and dict methods by name."""

    class Out(Schema):
        name = fields.String()
        count = fields.Integer(dump_default=7)
        items = fields.Raw()

    class Thing:
        name = "widget"

    plan = SchemaPlan.for_schema(Out())
    assert plan is not None
    assert plan.dump(Thing()) == Out().dump(Thing()) == {"name": "widget", "count": 7}
    document = {"name": 5}
    dumped = plan.dump(document)
    assert dumped == Out().dump(document)
    assert dumped["items"] == document.items  # no such key: marshmallow falls back to getattr


class WithHook(Schema):
    name = fields.String()

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return data


class DottedAttribute(Schema):
    city = fields.String(attribute="address.city")


class CustomField(fields.String):
    def deserialize(self, value: Any, attr: Any = None, data: Any = None, **kwargs: Any) -> Any:
        return "always"


class WithCustomField(Schema):
    name = CustomField()


@pytest.mark.parametrize(
    "schema",
    [WithHook(), DottedAttribute(), WithCustomField(), Inner(many=True), Inner(partial=True)],
    ids=["hook", "dotted-attribute", "overridden-field-method", "many", "partial"],
)
def test_schemas_it_cannot_follow_get_no_plan(schema: Schema) -> None:
    """Hooks, dotted attributes, overridden field methods, many and partial: marshmallow."""
    assert SchemaPlan.for_schema(schema) is None
