from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import BooleanField, IntegerField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

COMMENT_RULE = Length(max=10_000, message=_l("Between 1 and 10,000 characters."))


class CommentForm(FlaskForm):
    """A new comment, or with ``parent_id`` a reply. Many render on one page, so the
    templates write their inputs by hand with ids of their own; this form reads them."""

    body = TextAreaField(
        _l("Your comment"),
        validators=[DataRequired(message=_l("Write something first.")), COMMENT_RULE],
    )
    parent_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=2**31 - 1)])


class EditCommentForm(FlaskForm):
    body = TextAreaField(
        _l("Your comment"),
        validators=[DataRequired(message=_l("Write something first.")), COMMENT_RULE],
    )


class PublicProfileForm(FlaskForm):
    bio = TextAreaField(
        _l("About you"),
        validators=[Length(max=500, message=_l("Keep your bio to 500 characters."))],
        description=_l("Up to 500 characters, shown on your public profile."),
    )
    avatar = FileField(
        _l("Profile picture"),
        validators=[
            FileAllowed(["png", "jpg", "jpeg", "webp"], _l("PNG, JPEG or WebP images only."))
        ],
        description=_l("A PNG, JPEG or WebP image of up to 5 MB. We crop it to a square."),
    )
    remove_avatar = BooleanField(_l("Remove my picture and show my initials"))
    submit = SubmitField(_l("Save public profile"))
