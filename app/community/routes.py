from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.accounts.forms import ActionForm
from app.community import services
from app.community.models import FREQUENCIES
from app.errors import DomainError

bp = Blueprint("community", __name__, template_folder="templates")


@bp.route("/account/notifications", methods=["GET", "POST"])
@login_required
def notification_settings():
    """What we may mail, and how often: consent first, then a frequency per kind."""
    status = 200
    if request.method == "POST" and ActionForm().validate_on_submit():
        chosen = {
            kind: request.form.get(f"frequency-{kind}", "") for kind in services.NOTIFICATION_KINDS
        }
        try:
            services.set_preferences(current_user, chosen)
            services.set_email_consent(
                current_user, granted=request.form.get("email_consent") == "y"
            )
        except DomainError as error:
            flash(error.message, "danger")
            status = error.status
        else:
            flash(_("Your notification settings are saved."), "success")
            return redirect(url_for("community.notification_settings"))
    return render_template(
        "community/notification_settings.html",
        preferences=services.preferences(current_user),
        consent=services.email_consent(current_user.id),
        frequencies=FREQUENCIES,
        action_form=ActionForm(),
    ), status
