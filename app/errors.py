"""Typed domain errors and the app-wide error handlers.

Services raise ``DomainError`` subclasses; pages and the API turn them into the same status and
message. Every error answers JSON under ``/api/`` (or when the client asks for JSON) and an HTML
page otherwise. A 500 rolls the session back and is logged.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Flask, current_app, make_response, render_template, request
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.extensions import db


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(
        self, message: str, *, code: str | None = None, fields: dict | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > (request.accept_mimetypes["text/html"])
    )


def _http_message(error: HTTPException) -> str:
    messages = {
        400: _("The request could not be understood."),
        401: _("Please log in to continue."),
        403: _("You do not have permission to do that."),
        404: _("We could not find that page."),
        405: _("That action is not allowed here."),
        413: _("What you sent is too large."),
        415: _("Send the request body as application/json."),
        429: _("Too many attempts. Please wait a moment and try again."),
        500: _("Something went wrong on our side. It has been logged."),
    }
    return messages.get(error.code or 500, error.description or error.name)


def _render(status: int, code: str, message: str, fields: dict | None = None):
    from app.api.errors import error_response

    if wants_json():
        response = error_response(status, code, message, fields)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="cocreate"'
        return response
    template = f"errors/{status}.html" if status in (403, 404, 429, 500) else "errors/error.html"
    response = make_response(render_template(template, status=status, message=message), status)
    if request.headers.get("HX-Request"):
        # htmx does not swap a whole error page in; the page's script announces this instead.
        response.headers["X-Error-Message"] = quote(message)
    return response


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    code = error.name.lower().replace(" ", "_").replace("'", "")
    fields = None
    message = _http_message(error)
    if isinstance(error, CSRFError):
        code = "csrf_failed"
        message = _("This form has expired or was not sent from this site. Reload and try again.")
    elif isinstance(error, RateLimitExceeded):
        code = "rate_limited"
        message = _(
            "Too many attempts from your address (limit: %(limit)s). Please wait and try again.",
            limit=str(error.limit.limit),
        )
    elif status == 422 and getattr(error, "data", None):
        # webargs/flask-smorest validation: {"messages": {"json": {"field": ["..."]}}}
        code = "validation_failed"
        message = _("Some fields are not valid.")
        fields = {}
        for location_errors in error.data.get("messages", {}).values():
            if isinstance(location_errors, dict):
                fields.update(location_errors)
    elif status == 400 and error.description and error.description != error.__class__.description:
        message = error.description
    response = make_response(_render(status, code, message, fields))
    # Keep what the exception says beyond its body: Allow on 405, Retry-After, and so on.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_domain_error(error: DomainError):
    db.session.rollback()
    return _render(error.status, error.code, error.message, error.fields)


def handle_unexpected(error: Exception):
    db.session.rollback()
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    return _render(500, "internal_error", _http_message(InternalServerError()))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
