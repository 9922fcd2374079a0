"""Site-wide pages: the home page and the health check."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template
from flask_login import current_user
from sqlalchemy import text

from app.database import utcnow
from app.extensions import db
from app.ideas import services as ideas

bp = Blueprint("main", __name__, template_folder="templates")


@bp.get("/")
def home():
    hot = ideas.list_ideas(viewer=current_user, per_page=6)
    now = utcnow()
    return render_template(
        "main/home.html",
        hot_ideas=hot.items,
        supported=hot.supported,
        open_challenges=ideas.open_challenges(now, limit=3),
        now=now,
    )


@bp.get("/healthz")
def healthz():
    """200 once the database answers; load balancers and `make run` poll it."""
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
