"""``scaffold routes`` and ``scaffold openapi``: look at a service without serving it."""

from __future__ import annotations

import json

from scaffold.runtime.service import Service


def route_table(service: Service) -> list[str]:
    """One line per route: methods, host and template, resource and guards, aligned."""
    rows = [
        (
            " ".join(r.methods),
            f"{r.host}{r.template}" if r.host else r.template,
            r.resource + (f"  guards: {', '.join(r.guards)}" if r.guards else ""),
        )
        for r in service.routes()
    ]
    if not rows:
        return ["(no routes)"]
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    return [f"{m:<{width[0]}}  {t:<{width[1]}}  {res}" for m, t, res in rows]


def openapi_json(service: Service) -> str:
    """The service's OpenAPI document as indented JSON."""
    return json.dumps(service.openapi(), indent=2) + "\n"
