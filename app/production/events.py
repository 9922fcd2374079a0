"""What the production module announces. Subscribers run inside the publisher's transaction."""

from blinker import Namespace

signals = Namespace()

production_request_created = signals.signal(
    "production-request-created",
    doc="Sender: the production request for a confirmed batch, with at least ``id`` (the run), "
    "``idea_id`` (the adopted idea it makes) and ``confirmed_revenue_cents`` (the confirmed "
    "pre-orders' total, in cents). Emitted once per run.",
)

preorder_placed = signals.signal(
    "preorder-placed",
    doc="Sender: the pre-order, with at least ``id``, ``user_id`` (the backer), ``offering_id`` "
    "(the offering made of an adopted idea) and ``backer_number`` (its place among that "
    "offering's pre-orders, from 1). Emitted once per pre-order.",
)
