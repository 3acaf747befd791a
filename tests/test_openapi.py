"""The OpenAPI document validates and names exactly the API routes the app registers."""

from __future__ import annotations

import re
from pathlib import Path

from openapi_spec_validator import validate

from server.app import create_app, openapi_document
from server.settings import Settings

METHODS = {"get", "post", "put", "patch", "delete"}


def registered_api_routes(tmp_path: Path) -> set[tuple[str, str]]:
    settings = Settings.from_env({"MASHANGYI_DATA_DIR": str(tmp_path)}, base_dir=tmp_path)
    app = create_app(settings)
    routes = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        method = route.method.lower()
        if path.startswith("/api/") and method in METHODS:
            routes.add((re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path), method))
    return routes


def test_document_is_valid_openapi() -> None:
    validate(openapi_document())


def test_document_matches_registered_routes(tmp_path: Path) -> None:
    documented = {
        (path, method)
        for path, ops in openapi_document()["paths"].items()
        for method in ops
        if method in METHODS
    }
    registered = registered_api_routes(tmp_path)
    assert registered - documented == set(), "routes missing from the OpenAPI document"
    assert documented - registered == set(), "documented routes that do not exist"


def test_every_operation_documents_the_error_shape() -> None:
    for path, ops in openapi_document()["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    assert response["$ref"].startswith("#/components/responses/E"), (path, method)
