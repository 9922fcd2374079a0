"""Schema pieces shared by every feature's JSON views."""

from marshmallow import Schema, fields


class OrderedSchema(Schema):
    """Fields in the order they are declared, in answers and in the OpenAPI document."""

    class Meta:
        ordered = True


class Integer(fields.Integer):
    """A whole number, written as one. marshmallow's own field truncates 1.5 (or 2e-16) to an
    integer without a word; this one refuses any number written with a fraction or exponent
    (JSON's 0.0 too: the OpenAPI 3.0 document says "integer", which 0.0 is not)."""

    def _validated(self, value):
        if isinstance(value, float):
            raise self.make_error("invalid")
        return super()._validated(value)
