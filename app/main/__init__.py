"""Site-wide pages: the home page and the health check."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template
from sqlalchemy import text

from app.extensions import db

bp = Blueprint("main", __name__, template_folder="templates")


@bp.get("/")
def home():
    return render_template("main/home.html")


@bp.get("/healthz")
def healthz():
    """200 once the database answers; load balancers and `make run` poll it."""
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
