from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    PasswordField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

PASSWORD_RULE = Length(min=10, max=1024, message=_l("Use at least 10 characters."))


class RegisterForm(FlaskForm):
    display_name = StringField(
        _l("Display name"),
        validators=[DataRequired(), Length(max=80)],
        description=_l("Shown next to your ideas and comments."),
    )
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), PASSWORD_RULE],
        description=_l("At least 10 characters. A few unrelated words work well."),
    )
    submit = SubmitField(_l("Create account"))


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField(_l("Keep me signed in on this device"))
    submit = SubmitField(_l("Log in"))


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    submit = SubmitField(_l("Send reset link"))


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), PASSWORD_RULE])
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )
    submit = SubmitField(_l("Set new password"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=1024)]
    )
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), PASSWORD_RULE])
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
    )
    submit = SubmitField(_l("Change password"))


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=80)])
    submit = SubmitField(_l("Save profile"))


class TokenForm(FlaskForm):
    name = StringField(
        _l("Token name"),
        validators=[DataRequired(), Length(max=80)],
        description=_l("For example the script or app that will use it."),
    )
    submit = SubmitField(_l("Create token"))


class ActionForm(FlaskForm):
    """A button that posts: only the CSRF token travels."""


class LazyActionForm:
    """An ActionForm made when a template first renders it.

    Making a form makes its CSRF token, which puts it in the session: a page that shows nobody a
    form (an idea list to someone signed out) would otherwise set a session cookie on every view.
    """

    _form: ActionForm | None = None

    def __getattr__(self, name: str):
        if self._form is None:
            self._form = ActionForm()
        return getattr(self._form, name)


class SuspendForm(FlaskForm):
    """Suspend a person: why (shown to them) and, optionally, until when."""

    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(_l("Say why.")), Length(max=500)],
        description=_l("Shown to the person, so they know what to change."),
    )
    until = DateField(
        _l("Until"),
        validators=[Optional()],
        description=_l("The end of the day it ends (UTC). Leave empty: until lifted."),
    )
