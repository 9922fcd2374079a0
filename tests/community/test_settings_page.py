from __future__ import annotations

from app.community import services
from tests.factories import make_member


def test_notification_settings_save_consent_and_frequencies(client, db, login):
    user = make_member()
    login(user)
    page = client.get("/account/notifications")
    assert page.status_code == 200
    assert "Right away" in page.get_data(as_text=True)
    form = {f"frequency-{kind}": "daily" for kind in services.NOTIFICATION_KINDS}
    form["frequency-mention"] = "never"
    form["email_consent"] = "y"
    assert client.post_form("/account/notifications", form).status_code == 302
    assert services.email_consent(user.id) is True
    assert services.preferences(user)["mention"] == "never"
    assert services.preferences(user)["reply"] == "daily"


def test_unknown_frequency_is_refused_and_nothing_changes(client, db, login):
    user = make_member()
    login(user)
    form = {f"frequency-{kind}": "hourly" for kind in services.NOTIFICATION_KINDS}
    assert client.post_form("/account/notifications", form).status_code == 422
    assert services.preferences(user)["reply"] == "immediately"
    assert services.email_consent(user.id) is False
