"""What the production module announces. Subscribers run inside the publisher's transaction."""

from blinker import Namespace

signals = Namespace()

production_request_created = signals.signal(
    "production-request-created",
    doc="Sender: the production request for a confirmed batch, with at least ``id`` (the run), "
    "``idea_id`` (the adopted idea it makes) and ``confirmed_revenue_cents`` (the confirmed "
    "pre-orders' total, in cents). Emitted once per run.",
)
