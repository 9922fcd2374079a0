"""What the rewards module announces. Subscribers run inside the publisher's transaction."""

from blinker import Namespace

signals = Namespace()

redemption_requested = signals.signal(
    "redemption-requested", doc="Sender: the Redemption (status requested). kwargs: user."
)
redemption_decided = signals.signal(
    "redemption-decided",
    doc="Sender: the Redemption, now fulfilled or cancelled. kwargs: actor (who decided).",
)
points_granted = signals.signal(
    "points-granted",
    doc="Sender: the LedgerEntry of an admin's grant or deduction. kwargs: actor, user.",
)
