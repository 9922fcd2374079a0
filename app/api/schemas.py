"""Schema pieces shared by every feature's JSON views."""

from marshmallow import Schema, fields


class OrderedSchema(Schema):
    """Fields in the order they are declared, in answers and in the OpenAPI document."""

    class Meta:
        ordered = True


class Integer(fields.Integer):
    """A whole number. marshmallow's own field truncates 1.5 (or 2e-16) to an integer without a
    word; this one refuses a number with a fraction, as invalid."""

    def _validated(self, value):
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._validated(value)
