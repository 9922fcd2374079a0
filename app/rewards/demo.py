"""Demo rewards: a small catalog, a thank-you grant and one request waiting in the queue."""

from __future__ import annotations

from app.accounts.models import User
from app.rewards import services

DEMO_ITEMS = [
    ("Sticker pack", "Five vinyl stickers of this year's community favourites.", 20, None, None),
    (
        "Cocreate mug",
        "Stoneware, dishwasher-safe, with the co-creators' wall printed on.",
        150,
        25,
        2,
    ),
    ("Tote bag", "Organic cotton, made by the team that makes our adopted ideas.", 300, 10, 1),
    (
        "Prototype preview",
        "Try an adopted idea before it ships, and tell the product team what to change.",
        2000,
        3,
        1,
    ),
]


def seed_rewards(people: dict[str, User]) -> None:
    """``people`` by e-mail, as seeded: the admin, product and at least Lena."""
    admin, product, lena = (
        people["admin@example.com"],
        people["product@example.com"],
        people["lena@example.com"],
    )
    items = [
        services.create_item(
            product,
            name=name,
            description=description,
            cost=cost,
            stock=stock,
            per_person_limit=limit,
        )
        for name, description, cost, stock, limit in DEMO_ITEMS
    ]
    services.grant(lena, 250, reason="Thanks for testing the beta", actor=admin)
    services.redeem(lena, items[0].id)
