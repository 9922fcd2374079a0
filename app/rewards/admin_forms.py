"""Forms of the staff pages: earning rules, reward items, the fulfilment queue, grants.

The forms check shapes (a number, a length); the ranges and everything else are the service's
rules, so the pages and the API refuse the same things.
"""

from __future__ import annotations

from datetime import UTC

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from app.ideas.forms import IMAGE_TYPES

NOT_A_NUMBER = _l("Enter a whole number.")
# What <input type="datetime-local"> sends first; the others are what people type by hand.
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


def WholeNumberField(label, **kwargs) -> IntegerField:  # noqa: N802 (reads like a field class)
    """An IntegerField that says plainly what it wants."""
    return IntegerField(label, invalid_value_message=NOT_A_NUMBER, **kwargs)


class RuleForm(FlaskForm):
    """One earning rule's row; rendered with the rule's code as prefix, so rows never clash."""

    amount = WholeNumberField(_l("Amount"), validators=[InputRequired(message=NOT_A_NUMBER)])
    daily_cap = WholeNumberField(_l("Daily cap"), validators=[Optional()])
    save = SubmitField(_l("Save"))


class ItemForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(
        _l("Description"),
        validators=[Length(max=2000)],
        description=_l("What it is and how it reaches the customer."),
    )
    cost = WholeNumberField(_l("Cost in points"), validators=[InputRequired(message=NOT_A_NUMBER)])
    stock = WholeNumberField(
        _l("Stock"), validators=[Optional()], description=_l("Leave empty for unlimited.")
    )
    # The stock when the form was opened: customers may redeem while staff edit, so the stock
    # changes only when staff changed it, and only from what they saw.
    stock_seen = HiddenField()
    per_person_limit = WholeNumberField(
        _l("Limit per person"),
        validators=[Optional()],
        description=_l("Leave empty for no limit. Cancelled redemptions do not count."),
    )
    active_from = DateTimeLocalField(
        _l("Available from (UTC)"),
        validators=[Optional()],
        format=LOCAL_FORMATS,
        tz=UTC,
        description=_l("In UTC. Leave empty to offer it at once."),
    )
    active_until = DateTimeLocalField(
        _l("Available until (UTC)"),
        validators=[Optional()],
        format=LOCAL_FORMATS,
        tz=UTC,
        description=_l("In UTC. Leave empty to offer it until further notice."),
    )
    image = FileField(
        _l("Picture"),
        validators=[IMAGE_TYPES],
        description=_l("A PNG, JPEG or WebP image, at most 5 MB. It replaces the current one."),
    )
    remove_image = BooleanField(_l("Remove the current picture"))
    submit = SubmitField(_l("Save reward"))


class DecisionForm(FlaskForm):
    """Fulfil or cancel a redemption, with a note the customer reads."""

    note = StringField(_l("Note for the customer"), validators=[Length(max=500)])


class GrantForm(FlaskForm):
    email = EmailField(_l("Person's email address"), validators=[DataRequired(), Length(max=254)])
    amount = WholeNumberField(
        _l("Points"),
        validators=[InputRequired(message=NOT_A_NUMBER)],
        description=_l("A negative number deducts points."),
    )
    reason = StringField(
        _l("Reason"),
        validators=[DataRequired(), Length(max=300)],
        description=_l("The person sees it in their points history and notification."),
    )
    # One token per opened form: sending the same form twice grants once.
    request_key = HiddenField()
    submit = SubmitField(_l("Grant points"))
