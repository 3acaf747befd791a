"""The OpenAPI 3 document, assembled from each feature's path fragments.

Each feature's http module describes its own routes next to them; a test checks
that the document validates and that it names exactly the routes registered.
"""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
Schema = dict[str, Any]


def obj(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def string(**extra: Any) -> Schema:
    return {"type": "string", **extra}


def integer(**extra: Any) -> Schema:
    return {"type": "integer", **extra}


def number(**extra: Any) -> Schema:
    return {"type": "number", **extra}


def boolean() -> Schema:
    return {"type": "boolean"}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def path_param(name: str, schema: Schema | None = None) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema or string()}


def query_param(name: str, schema: Schema | None = None, description: str = "") -> Schema:
    param: Schema = {"name": name, "in": "query", "required": False, "schema": schema or string()}
    if description:
        param["description"] = description
    return param


def operation(
    summary: str,
    *,
    tag: str,
    ok: Schema | None = None,
    ok_status: str = "200",
    ok_type: str = "application/json",
    body: Schema | None = None,
    body_type: str = "application/json",
    params: list[Schema] | None = None,
    errors: tuple[int, ...] = (),
    staff: bool = False,
) -> Schema:
    responses: dict[str, Any] = {
        ok_status: {"description": "OK", "content": {ok_type: {"schema": ok or {}}}}
    }
    for status in sorted(set(errors) | ({401, 403} if staff else set())):
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    op: Schema = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {body_type: {"schema": body}}}
    if staff:
        op["security"] = [{"session": [], "csrf": []}]
    return op


_STATUS_TEXT = {
    400: "Invalid input; `fields` names each bad field",
    401: "Not logged in",
    403: "Wrong role or region, or CSRF token missing",
    404: "Not found",
    409: "Conflicts with the current state",
    410: "No longer available",
    413: "Request body too large",
    429: "Rate limited; see Retry-After",
}


def document(paths: dict[str, dict[str, Schema]], *, version: str) -> Schema:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "码上议 Mashangyi API",
            "version": version,
            "description": 'Every error has the body {"error": {code, message, fields}}.',
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Error": obj(
                    {
                        "error": obj(
                            {
                                "code": string(),
                                "message": string(),
                                "fields": {"type": "object", "additionalProperties": string()},
                            },
                            ["code", "message", "fields"],
                        ),
                    },
                    ["error"],
                ),
            },
            "responses": {
                f"E{status}": {
                    "description": text,
                    "content": {"application/json": {"schema": ERROR}},
                }
                for status, text in _STATUS_TEXT.items()
            },
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "msy_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
        },
    }
