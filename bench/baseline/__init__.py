"""A deliberately plain Flask + Flask-SQLAlchemy app: the yardstick of `make bench`."""
