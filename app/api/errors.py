"""The one error body of the API: ``{"error": {"code", "message", "fields"}}``."""

from __future__ import annotations

from flask import jsonify
from marshmallow import Schema, fields


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"example": "validation_failed"})
    message = fields.String(required=True)
    fields = fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={"description": "Per-field messages, when the error is about input."},
    )


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)


def error_response(status: int, code: str, message: str, field_errors: dict | None = None):
    response = jsonify({"error": {"code": code, "message": message, "fields": field_errors or {}}})
    response.status_code = status
    return response
