from blinker import Namespace

signals = Namespace()

user_registered = signals.signal("user-registered", doc="Sender: the new User. Sent before commit.")
password_changed = signals.signal(
    "password-changed", doc="Sender: the User. kwargs: reason ('change' or 'reset')."
)
role_granted = signals.signal("role-granted", doc="Sender: the User. kwargs: role, actor.")
role_revoked = signals.signal("role-revoked", doc="Sender: the User. kwargs: role, actor.")
