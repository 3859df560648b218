"""What marshmallow's load and dump cost, and what a SchemaPlan of the same schema costs.

The generated service's schemas (GreetingRequestSchema, GreetingSchema), timed with timeit
in alternating rounds; prints microseconds per call. Run it with the project's venv:

    .venv/bin/python bench/schemas.py [--number 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields, validate

from scaffold.runtime.schemaplan import SchemaPlan

LANGUAGES = ("en", "fr", "es")


class GreetingRequestSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))


class GreetingSchema(Schema):
    greeting = fields.String(required=True)
    language = fields.String(required=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=50000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    request, response = GreetingRequestSchema(), GreetingSchema()
    request_plan, response_plan = SchemaPlan.for_schema(request), SchemaPlan.for_schema(response)
    assert request_plan is not None
    assert response_plan is not None
    body = {"name": "Ada", "language": "fr"}
    greeting = {"greeting": "Bonjour, Ada!", "language": "fr"}
    assert request_plan.load(body) == request.load(body)
    assert response_plan.dump(greeting) == response.dump(greeting)
    cases: dict[str, Callable[[], Any]] = {
        "marshmallow load": lambda: request.load(body),
        "SchemaPlan load": lambda: request_plan.load(body),
        "marshmallow dump": lambda: response.dump(greeting),
        "SchemaPlan dump": lambda: response_plan.dump(greeting),
    }
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, case in cases.items():
            results[name].append(timeit.timeit(case, number=args.number) / args.number * 1e6)
    for name, values in results.items():
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {name:<17} median {statistics.median(values):6.2f} us  ({shown})")


if __name__ == "__main__":
    main()
