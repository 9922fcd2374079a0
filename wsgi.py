"""Entry point for gunicorn (``gunicorn wsgi:app``) and ``flask --app wsgi``.

``socketio`` is the Socket.IO server bound to ``app``; gunicorn serves both through ``app``.
"""

from app import create_app
from app.extensions import socketio

app = create_app()

__all__ = ["app", "socketio"]
