from __future__ import annotations

from datetime import UTC, datetime, time

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.accounts import services
from app.accounts.forms import (
    ActionForm,
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    ProfileForm,
    RegisterForm,
    ResetPasswordForm,
    SuspendForm,
    TokenForm,
)
from app.accounts.models import GRANTED_ROLES
from app.accounts.permissions import (
    can_manage_roles,
    can_read_outbox,
    can_suspend_people,
    permission_required,
)
from app.errors import DomainError, Forbidden
from app.extensions import db, limiter
from app.mail.services import recent_mail
from app.web import safe_next, show_form_errors, writes_on_get

bp = Blueprint("accounts", __name__, template_folder="templates")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _signup_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT"]


def _reset_limit() -> str:
    return current_app.config["RESET_RATE_LIMIT"]


def _form_status(form) -> int:
    return 422 if form.is_submitted() else 200


# --- sign up, in and out --------------------------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_signup_limit, methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = RegisterForm()
    status = _form_status(form)
    if form.validate_on_submit():
        try:
            user = services.register_user(
                email=form.email.data,
                display_name=form.display_name.data,
                password=form.password.data,
            )
        except DomainError as error:
            status = show_form_errors(form, error)
        else:
            login_user(user)
            flash(
                _(
                    "Welcome, %(name)s! We sent a link to %(email)s to confirm your address.",
                    name=user.display_name,
                    email=user.email,
                ),
                "success",
            )
            return redirect(url_for("main.home"))
    return render_template("accounts/register.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(url_for("main.home")))
    form = LoginForm()
    status = _form_status(form)
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user, remember=form.remember.data)
            services.record_login(user, password=form.password.data)
            flash(_("Welcome back, %(name)s.", name=user.display_name), "success")
            return redirect(safe_next(url_for("main.home")))
        # The same answer whether the email is unknown or the password wrong.
        form.form_errors.append(_("That email and password do not match an account."))
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
def logout():
    form = ActionForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        logout_user()
        flash(_("You are logged out."), "info")
    return redirect(url_for("main.home"))


# --- e-mail verification and password reset -------------------------------------------------


@bp.get("/verify-email/<token>")
@writes_on_get
def verify_email(token: str):
    try:
        user = services.verify_email(token)
    except DomainError as error:
        flash(error.message, "danger")
        return redirect(url_for("main.home"))
    flash(_("Thanks, %(email)s is confirmed.", email=user.email), "success")
    return redirect(url_for("main.home"))


@bp.post("/verify-email/resend")
@limiter.limit(_reset_limit, methods=["POST"])
@login_required
def resend_verification():
    if ActionForm().validate_on_submit():
        services.resend_verification(current_user)
        flash(_("We sent a new confirmation link to %(email)s.", email=current_user.email), "info")
    return redirect(safe_next(url_for("accounts.account")))


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    status = _form_status(form)
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        flash(
            _(
                "If an account uses %(email)s, a reset link is on its way. It works for one hour.",
                email=form.email.data,
            ),
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form), status


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        services.user_for_reset_token(token)
    except DomainError as error:
        flash(error.message, "danger")
        return redirect(url_for("accounts.forgot_password"))
    form = ResetPasswordForm()
    status = _form_status(form)
    if form.validate_on_submit():
        try:
            user = services.reset_password(token, new_password=form.password.data)
        except DomainError as error:
            status = show_form_errors(form, error)
        else:
            logout_user()
            flash(
                _("Your password is set, %(name)s. Log in with it now.", name=user.display_name),
                "success",
            )
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form), status


# --- the person's own account ---------------------------------------------------------------


def _render_account(status: int = 200, **forms):
    forms.setdefault("profile_form", ProfileForm(formdata=None, obj=current_user))
    forms.setdefault("password_form", ChangePasswordForm(formdata=None))
    forms.setdefault("token_form", TokenForm(formdata=None))
    return render_template(
        "accounts/account.html",
        tokens=services.list_api_tokens(current_user),
        action_form=ActionForm(),
        **forms,
    ), status


@bp.get("/account")
@login_required
def account():
    return _render_account()


@bp.post("/account/profile")
@login_required
def update_profile():
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            services.update_profile(current_user, display_name=form.display_name.data)
        except DomainError as error:
            return _render_account(show_form_errors(form, error), profile_form=form)
        flash(_("Profile saved."), "success")
        return redirect(url_for("accounts.account"))
    return _render_account(422, profile_form=form)


@bp.post("/account/password")
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        remember = bool(
            request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token"))
        )
        try:
            services.change_password(
                current_user,
                current_password=form.current_password.data,
                new_password=form.new_password.data,
            )
        except DomainError as error:
            return _render_account(show_form_errors(form, error), password_form=form)
        # This session carries the new epoch; every other one is now signed out.
        login_user(current_user._get_current_object(), remember=remember)
        flash(_("Password changed. Your other sessions and API tokens were signed out."), "success")
        return redirect(url_for("accounts.account"))
    return _render_account(422, password_form=form)


@bp.post("/account/tokens")
@login_required
def create_token():
    form = TokenForm()
    if form.validate_on_submit():
        try:
            token, raw = services.create_api_token(current_user, name=form.name.data)
        except DomainError as error:
            return _render_account(show_form_errors(form, error), token_form=form)
        return render_template("accounts/token_created.html", token=token, raw_token=raw)
    return _render_account(422, token_form=form)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    if ActionForm().validate_on_submit():
        services.revoke_api_token(current_user, token_id)
        flash(_("Token revoked."), "success")
    return redirect(url_for("accounts.account"))


# --- administration -------------------------------------------------------------------------


@bp.get("/admin/users")
@permission_required(can_suspend_people)
def admin_users():
    query = request.args.get("q", "").strip()
    users = services.search_people(query, page=request.args.get("page", 1, type=int))
    return render_template(
        "accounts/admin_users.html",
        users=users,
        query=query,
        roles=GRANTED_ROLES,
        action_form=ActionForm(),
        suspend_form=SuspendForm(formdata=None),
    )


def _person_row(user, *, error=None, form=None):
    """After a change: the person's row alone (htmx), or back to the page with a message."""
    status = error.status if error else (422 if form is not None and form.errors else 200)
    if request.headers.get("HX-Request"):
        return render_template(
            "accounts/_user_row.html",
            user=user,
            roles=GRANTED_ROLES,
            action_form=ActionForm(),
            suspend_form=form or SuspendForm(formdata=None),
            error=error,
        ), status
    if error:
        flash(error.message, "danger")
    elif form is not None and form.errors:
        for name, messages in form.errors.items():
            flash(f"{form[name].label.text}: {messages[0]}", "danger")
    return redirect(url_for("accounts.admin_users", q=request.args.get("q", "")))


@bp.post("/admin/users/<int:user_id>/suspension")
@permission_required(can_suspend_people)
def suspend(user_id: int):
    user = services.get_user(user_id)
    form = SuspendForm()
    if not form.validate_on_submit():
        return _person_row(user, form=form)
    until = None
    if form.until.data:
        until = datetime.combine(form.until.data, time(23, 59, 59), tzinfo=UTC)
    try:
        services.suspend(user, actor=current_user, reason=form.reason.data, until=until)
    except DomainError as exc:
        db.session.rollback()
        return _person_row(user, error=exc, form=form)
    if not request.headers.get("HX-Request"):
        flash(_("%(name)s is suspended.", name=user.display_name), "success")
    return _person_row(user)


@bp.post("/admin/users/<int:user_id>/suspension/lift")
@permission_required(can_suspend_people)
def unsuspend(user_id: int):
    user = services.get_user(user_id)
    if not ActionForm().validate_on_submit():
        return _person_row(user, error=Forbidden(_("This form has expired. Reload and try again.")))
    try:
        services.unsuspend(user, actor=current_user)
    except DomainError as exc:
        db.session.rollback()
        return _person_row(user, error=exc)
    if not request.headers.get("HX-Request"):
        flash(_("The suspension of %(name)s is lifted.", name=user.display_name), "success")
    return _person_row(user)


@bp.post("/admin/users/<int:user_id>/roles/<role>/<any(grant, revoke):action>")
@permission_required(can_manage_roles)
def change_role(user_id: int, role: str, action: str):
    user = services.get_user(user_id)
    error = None
    if ActionForm().validate_on_submit():
        try:
            if action == "grant":
                services.grant_role(user, role, actor=current_user)
            else:
                services.revoke_role(user, role, actor=current_user)
        except DomainError as exc:
            db.session.rollback()
            error = exc
    if not error and not request.headers.get("HX-Request"):
        flash(_("Roles of %(name)s updated.", name=user.display_name), "success")
    return _person_row(user, error=error)


@bp.get("/admin/outbox")
@permission_required(can_read_outbox)
def admin_outbox():
    return render_template("accounts/admin_outbox.html", messages=recent_mail())
