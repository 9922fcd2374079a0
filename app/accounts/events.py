from blinker import Namespace

signals = Namespace()

user_registered = signals.signal("user-registered", doc="Sender: the new User. Sent before commit.")
password_changed = signals.signal(
    "password-changed", doc="Sender: the User. kwargs: reason ('change' or 'reset')."
)
role_granted = signals.signal("role-granted", doc="Sender: the User. kwargs: role, actor.")
role_revoked = signals.signal("role-revoked", doc="Sender: the User. kwargs: role, actor.")
user_suspended = signals.signal(
    "user-suspended",
    doc="Sender: the User. kwargs: actor, reason, until (None: until lifted). Sent before "
    "commit; also when a suspension is changed.",
)
user_unsuspended = signals.signal(
    "user-unsuspended", doc="Sender: the User. kwargs: actor. Sent before commit."
)
