"""/api/v1/openapi.json: a valid OpenAPI 3 document that describes every API route.

openapi-spec-validator is not installed; schemathesis (a test dependency) validates documents
against the official OpenAPI 3.0 JSON Schema, so its ``validate()`` does the job.
"""

from __future__ import annotations

import copy
import re

import jsonschema_rs
import pytest
import schemathesis
from flask import Flask

SPEC_URL = "/api/v1/openapi.json"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# <int:user_id>, <any(moderator, product, admin):role>, <token> -> {user_id}, {role}, {token}
RULE_ARGUMENT = re.compile(r"<(?:[^<>]*:)?(\w+)>")
PUBLIC_OPERATIONS = {("POST", "/api/v1/tokens"), ("POST", "/api/v1/users")}


@pytest.fixture
def spec(client) -> dict:
    response = client.get(SPEC_URL)
    assert response.status_code == 200
    return response.get_json()


def openapi_path(rule: str) -> str:
    return RULE_ARGUMENT.sub(r"{\1}", rule)


def api_routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (method, openapi_path(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.rule != SPEC_URL
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def documented_operations(spec: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def test_document_is_served_to_anyone_as_json(client, db):
    response = client.get(SPEC_URL)

    assert response.status_code == 200
    assert response.content_type == "application/json"


def test_document_is_valid_openapi_3(spec):
    assert re.fullmatch(r"3\.0\.\d+", spec["openapi"])
    assert spec["info"]["title"] == "Cocreate API"
    assert spec["info"]["version"] == "v1"
    schemathesis.openapi.from_dict(spec).validate()  # raises on any violation


def test_validation_would_catch_a_broken_document(spec):
    # Guards the test above: an operation without responses is not OpenAPI 3.
    broken = copy.deepcopy(spec)
    del broken["paths"]["/api/v1/me"]["get"]["responses"]

    with pytest.raises(jsonschema_rs.ValidationError, match="responses"):
        schemathesis.openapi.from_dict(broken).validate()


def test_rule_paths_convert_to_openapi_paths():
    assert openapi_path("/api/v1/tokens/<int:token_id>") == "/api/v1/tokens/{token_id}"
    assert (
        openapi_path("/api/v1/users/<int:user_id>/roles/<any(moderator, product, admin):role>")
        == "/api/v1/users/{user_id}/roles/{role}"
    )
    assert openapi_path("/api/v1/things/<slug>") == "/api/v1/things/{slug}"


def test_every_api_route_is_described(app, spec):
    routes = api_routes(app)
    assert ("DELETE", "/api/v1/tokens/{token_id}") in routes  # the map really was read

    assert routes - documented_operations(spec) == set()


def test_every_described_operation_is_a_route(app, spec):
    assert documented_operations(spec) - api_routes(app) == set()


def test_only_token_and_sign_up_are_public(spec):
    public = {
        (method, path)
        for method, path, operation in operations(spec)
        if operation.get("security") == []
    }

    assert public == PUBLIC_OPERATIONS
    assert spec["security"] == [{"bearerAuth": []}, {"sessionCookie": []}]
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from POST /api/v1/tokens.",
    }


def test_every_operation_documents_the_error_envelope(spec):
    for method, path, operation in operations(spec):
        default = operation["responses"].get("default")
        assert default == {"$ref": "#/components/responses/DEFAULT_ERROR"}, (method, path)
    error = spec["components"]["responses"]["DEFAULT_ERROR"]["content"]["application/json"]
    assert error["schema"] == {"$ref": "#/components/schemas/Error"}
    detail = spec["components"]["schemas"]["ErrorDetail"]
    assert sorted(detail["required"]) == ["code", "fields", "message"]
    assert detail["additionalProperties"] is False
