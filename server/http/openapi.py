"""The OpenAPI document of the HTTP API, made from the route table itself
(server/http/edge.py `Endpoint`), so it cannot drift from what is served."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from server.auth import Role
from server.http.edge import Endpoint, Param

_ERRORS = {
    "401": "Missing or unknown key.",
    "403": "The key lacks the role or the project.",
    "422": "Invalid input: `detail` lists each bad field (`loc`, `msg`).",
    "503": "The database is unreachable or the service is starting: retry after Retry-After.",
}


def _schema(param: Param) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": param.type}
    if param.type == "array":
        schema["items"] = {"type": param.items, **({"enum": list(param.enum)} if param.enum else {})}
    elif param.enum:
        schema["enum"] = list(param.enum)
    if param.default is not None:
        schema["default"] = param.default
    bounds = ("minimum", "maximum") if param.type == "integer" else ("minLength", "maxLength")
    for key, value in zip(bounds, (param.minimum, param.maximum), strict=True):
        if value is not None:
            schema[key] = value
    return schema


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    in_path = {p.strip("{}") for p in endpoint.path.split("/") if p.startswith("{")}
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "parameters": [
            {
                "name": p.name,
                "in": "path" if p.name in in_path else "query",
                "required": p.required or p.name in in_path,
                "description": p.description,
                "schema": _schema(p),
            }
            for p in endpoint.params
        ],
        "responses": {"200": {"description": "OK"}, **{k: {"description": v} for k, v in _ERRORS.items()}},
    }
    if endpoint.role is not Role.READER:
        operation["security"] = [{"bearer": []}, {"basic": []}]
        operation["description"] = f"Needs a key with role {endpoint.role.value}."
    if endpoint.body is not None:
        operation["requestBody"] = {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {p.name: _schema(p) for p in endpoint.body},
                        "required": [p.name for p in endpoint.body if p.required],
                    }
                }
            }
        }
    if endpoint.raw_body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    return operation


def openapi_document(endpoints: Sequence[Endpoint], prefix: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(prefix + endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    for path, summary in (("/healthz", "The process is up."),
                          ("/readyz", "The database answers and migrations are applied.")):
        paths[path] = {"get": {"summary": summary, "responses": {"200": {"description": "OK"},
                                                                 "503": {"description": "Not ready"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Channel Events HTTP API", "version": "v1"},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic",
                          "description": "Any user name; the key as the password (webhooks)."},
            }
        },
    }
