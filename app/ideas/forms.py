from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

IMAGE_TYPES = FileAllowed(["png", "jpg", "jpeg", "webp"], _l("PNG, JPEG or WebP images only."))


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


class IdeaForm(FlaskForm):
    title = StringField(
        _l("Title"),
        validators=[DataRequired(), Length(min=5, max=140)],
        description=_l("One line that says what you would like made."),
    )
    body = TextAreaField(
        _l("Describe it"),
        validators=[DataRequired(), Length(max=20_000)],
        description=_l("Who is it for, what problem does it solve? Markdown works."),
    )
    category_id = SelectField(_l("Category"), coerce=_optional_int, validators=[Optional()])
    challenge_id = SelectField(_l("Challenge"), coerce=_optional_int, validators=[Optional()])
    tags = StringField(
        _l("Tags"),
        validators=[Length(max=200)],
        description=_l("Up to 5, separated by commas, e.g. kitchen, zero-waste."),
    )
    images = MultipleFileField(
        _l("Images"),
        validators=[IMAGE_TYPES],
        description=_l("Up to 4 PNG, JPEG or WebP images, 5 MB each."),
    )
    submit = SubmitField(_l("Share idea"))


class IdeaEditForm(IdeaForm):
    # An idea stays in its challenge and keeps its pictures when edited.
    challenge_id = None
    images = None
    submit = SubmitField(_l("Save changes"))


class StatusForm(FlaskForm):
    status = HiddenField(validators=[DataRequired()])
    note = TextAreaField(
        _l("Note"),
        validators=[Length(max=5_000)],
        description=_l("Shown in the idea's timeline. Required when declining."),
    )
    official_response = TextAreaField(
        _l("Official response"),
        validators=[Length(max=20_000)],
        description=_l("Optional; pinned on the idea for everyone to read."),
    )


class MergeForm(FlaskForm):
    into = IntegerField(
        _l("Merge into idea number"),
        validators=[DataRequired(), NumberRange(min=1, max=2**31 - 1)],
    )
    submit = SubmitField(_l("Merge"))


class ChallengeForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(min=5, max=140)])
    brief = TextAreaField(
        _l("Brief"),
        validators=[DataRequired(), Length(max=20_000)],
        description=_l("What you are looking for. Markdown works."),
    )
    category_id = SelectField(_l("Category"), coerce=_optional_int, validators=[Optional()])
    opens_at = DateTimeLocalField(_l("Opens (UTC)"), validators=[DataRequired()])
    closes_at = DateTimeLocalField(_l("Closes (UTC)"), validators=[DataRequired()])
    bonus_points = IntegerField(
        _l("Bonus points for the winning idea"),
        validators=[Optional(), NumberRange(min=0, max=1_000_000)],
    )
    cover = FileField(_l("Cover image"), validators=[IMAGE_TYPES])
    submit = SubmitField(_l("Publish challenge"))


class CategoryForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(min=2, max=60)])
    description = StringField(_l("Description"), validators=[Length(max=300)])
    submit = SubmitField(_l("Add category"))
