"""The OpenAPI 3.1 document, built from the routes' :class:`Endpoint` declarations."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from safecall.endpoint import endpoint_of

_COMMON_ERRORS = {
    400: "The request is malformed (code names what was wrong).",
    401: "Not logged in (code `not_logged_in`).",
    403: "Logged in without the role this needs (code `forbidden`).",
    429: "Too many attempts; wait for Retry-After seconds.",
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "pattern": "^[a-z_]+$"},
                "message": {"type": "string", "minLength": 1},
            },
        }
    },
}


def build(app: web.Application, title: str = "safecall", version: str = "1") -> dict[str, Any]:
    """The document for every documented route of ``app``."""
    operations: list[tuple[str, str, Any]] = []
    models: set[type[BaseModel]] = set()
    for route in app.router.routes():
        meta = endpoint_of(route.handler)
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if meta is None or not meta.document or path is None or route.method == "HEAD":
            continue
        operations.append((route.method.lower(), path, meta))
        models.update(m for m in (meta.body, meta.query, meta.response) if m is not None)

    ordered = sorted(models, key=lambda m: m.__name__)
    keyed, defs = models_json_schema(
        [(m, "validation" if m is not None else "serialization") for m in ordered],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Error"] = ERROR_SCHEMA

    paths: dict[str, dict[str, Any]] = {}
    for method, path, meta in sorted(operations, key=lambda o: (o[1], o[0])):
        op: dict[str, Any] = {"summary": meta.summary, "operationId": _op_id(method, path)}
        if meta.tags:
            op["tags"] = list(meta.tags)
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", path)
        ]
        if meta.query is not None:
            schema = keyed[(meta.query, "validation")]
            target = schemas[schema["$ref"].rsplit("/", 1)[1]]
            required = set(target.get("required", []))
            for name, prop in target.get("properties", {}).items():
                param = {"name": name, "in": "query", "required": name in required, "schema": prop}
                if prop.get("deprecated"):
                    param["deprecated"] = True
                params.append(param)
        if params:
            op["parameters"] = params
        if meta.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": keyed[(meta.body, "validation")]}},
            }
        responses: dict[str, Any] = {}
        if meta.response is not None:
            body_schema = keyed[(meta.response, "validation")]
            responses[str(meta.status)] = {
                "description": "Success.",
                "content": {meta.content_type: {"schema": body_schema}},
            }
        elif meta.content_type == "application/json":
            responses[str(meta.status)] = {"description": "Success, no body."}
        else:
            responses[str(meta.status)] = {
                "description": "Success.",
                "content": {meta.content_type: {"schema": {"type": "string"}}},
            }
        error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        statuses = dict(_COMMON_ERRORS)
        if meta.roles is None:
            statuses.pop(401)
            # A public route refuses with 403 only for a reason of its own (a wrong PIN)
            # or for a write sent from another site's page (`bad_origin`).
            if meta.errors or method != "get":
                statuses[403] = "Refused (the code says why)."
            else:
                statuses.pop(403)
        statuses.update(
            {404: "Not found.", 409: "Conflicts with the current state.", 415: "Not JSON."}
        )
        for extra in meta.statuses:
            statuses.setdefault(extra, "Refused (the code says why).")
        for status, text in statuses.items():
            codes = f" Codes: {', '.join(meta.errors)}." if meta.errors else ""
            responses[str(status)] = {"description": text + codes, "content": error_ref}
        op["responses"] = responses
        if meta.roles is not None:
            op["security"] = [{"session": []}]
            op["x-roles"] = sorted(meta.roles)
        paths.setdefault(path, {})[method] = op

    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "safecall_session"}
            },
        },
    }


def _op_id(method: str, path: str) -> str:
    words = re.sub(r"[{}]", "", path).strip("/").replace("/", "_").replace("-", "_")
    return f"{method}_{words}"
