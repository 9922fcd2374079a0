"""Schema pieces shared by every feature's JSON views."""

from marshmallow import Schema


class OrderedSchema(Schema):
    """Fields in the order they are declared, in answers and in the OpenAPI document."""

    class Meta:
        ordered = True
