"""Demo content for ideas: a believable board, and bulk data for benchmarks."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import insert, select, text, update

from app.accounts.models import User
from app.database import utcnow
from app.extensions import db
from app.ideas import services
from app.ideas.models import Category, Challenge, Idea, StatusChange, Vote
from app.text import render_markdown

CATEGORIES = [
    ("Kitchen & dining", "Cooking, storage and the table."),
    ("Home office", "Desks, cables, light and focus."),
    ("Mobility", "Bikes, scooters and the daily commute."),
    ("Outdoor & travel", "Camping, hiking and the road."),
    ("Sustainability", "Less waste, longer life, refills."),
]

# (title, body, category index, tags, challenge key, final status, supporters)
IDEAS = [
    (
        "Modular spice rack that grows with your collection",
        "Start with six jars and click on more **as your collection grows**. Magnetic rails so "
        "it fits inside a cupboard door.",
        0,
        "storage, modular",
        None,
        "open",
        8,
    ),
    (
        "Silicone lids that stretch to fit any bowl",
        "One set of five lids replaces cling film for good. Dishwasher safe, no plastic taste.",
        0,
        "zero-waste",
        "kitchen",
        "open",
        6,
    ),
    (
        "Compost caddy with a charcoal filter for flats",
        "A small countertop caddy that doesn't smell, so people in flats actually compost.\n\n"
        "- replaceable charcoal filter\n- fits under the sink",
        4,
        "compost, apartment",
        "kitchen",
        "shortlisted",
        9,
    ),
    (
        "Foldable standing desk converter",
        "Folds flat to 5 cm so it can live behind the sofa when work is over.",
        1,
        "ergonomics",
        None,
        "adopted",
        9,
    ),
    (
        "Cable tray that clamps on without tools",
        "Clamp it to any desk up to 5 cm thick; no screws, no drilling.",
        1,
        "cables",
        None,
        "in_production",
        7,
    ),
    (
        "Bike pannier that turns into a backpack",
        "Two straps hide behind a zip panel. Clip it on the rack, ride, walk into the office.",
        2,
        "cycling, commute",
        "commute",
        "shipped",
        9,
    ),
    (
        "Scooter phone mount with wireless charging",
        "Charges while you ride and locks the phone with one hand.",
        2,
        "scooter, charging",
        "commute",
        "under_review",
        5,
    ),
    (
        "Refill station for dish soap in stores",
        "Bring the bottle back and refill it by weight.",
        4,
        "refill, zero-waste",
        None,
        "open",
        7,
    ),
    (
        "Dish soap refills in paper pouches",
        "Ship refills in recyclable paper instead of new bottles.",
        4,
        "refill",
        None,
        "merged",
        3,
    ),
    (
        "Kids' lunchbox with a built-in ice pack",
        "The lid is the ice pack: freeze the lid, food stays cold until noon.",
        0,
        "kids",
        None,
        "declined",
        4,
    ),
    (
        "Camping mug that nests on the stove",
        "A titanium mug sized to sit over the burner, with a lid that doubles as a plate.",
        3,
        "camping",
        None,
        "open",
        5,
    ),
    (
        "Solar lantern with a USB-C port",
        "Charge the lantern by day, charge your phone from it by night.",
        3,
        "solar, camping",
        None,
        "open",
        2,
    ),
]

PATHS = {
    "open": [],
    "under_review": ["under_review"],
    "shortlisted": ["under_review", "shortlisted"],
    "adopted": ["under_review", "shortlisted", "adopted"],
    "in_production": ["under_review", "shortlisted", "adopted", "in_production"],
    "shipped": ["under_review", "shortlisted", "adopted", "in_production", "shipped"],
    "declined": ["declined"],
}
RESPONSES = {
    "shortlisted": "We love this one. Our design team is building two prototypes now.",
    "adopted": "Adopted! Pre-orders open as soon as the production run is planned.",
    "declined": "Ice packs in lids crack in dishwashers in our tests, so we can't make this "
    "safely yet. Thank you for the idea!",
}


def seed_ideas(people: list[User]) -> None:
    """A small believable board, made through the real services (so events fire as live)."""
    by_role = {
        role: next(p for p in people if role in p.roles)
        for role in ("admin", "moderator", "product")
    }
    customers = [p for p in people if p.roles == frozenset({"customer"})]
    categories = []
    for name, description in CATEGORIES:
        categories.append(
            services.create_category(by_role["admin"], name=name, description=description)
        )
    now = utcnow()
    challenges = {
        "kitchen": services.create_challenge(
            by_role["product"],
            title="The zero-waste kitchen",
            brief="What would help you throw away **nothing** in the kitchen? The best idea "
            "wins 1,000 points and goes to our design team.",
            opens_at=now - timedelta(days=10),
            closes_at=now + timedelta(days=20),
            category_id=categories[0].id,
            bonus_points=1000,
        ),
        "commute": services.create_challenge(
            by_role["product"],
            title="Commute of the future",
            brief="Make getting to work by bike or scooter easier.",
            opens_at=now - timedelta(days=60),
            closes_at=now + timedelta(days=1),
            category_id=categories[2].id,
            bonus_points=500,
        ),
    }
    rng = random.Random(7)
    created: dict[str, Idea] = {}
    for n, (title, body, cat, tags, challenge, status, supporters) in enumerate(IDEAS):
        author = customers[n % len(customers)]
        idea = services.submit_idea(
            author,
            title=title,
            body=body,
            category_id=categories[cat].id,
            tags=tags,
            challenge_id=challenges[challenge].id if challenge else None,
        )
        created[title] = idea
        voters = [p for p in people if p.id != author.id]
        for voter in rng.sample(voters, min(supporters, len(voters))):
            services.cast_vote(idea.id, voter=voter)
        if status == "merged":
            services.merge_ideas(
                idea,
                into=created["Refill station for dish soap in stores"],
                actor=by_role["moderator"],
            )
            continue
        for step in PATHS[status]:
            actor = by_role["moderator"] if step == "declined" else by_role["product"]
            services.change_status(
                idea,
                actor=actor,
                to=step,
                note=RESPONSES["declined"] if step == "declined" else None,
                official_response=RESPONSES.get(step) if step == status else None,
            )
    # The commute challenge has run its course.
    db.session.execute(
        update(Challenge)
        .where(Challenge.id == challenges["commute"].id)
        .values(closes_at=now - timedelta(days=2))
    )
    db.session.commit()
    services.close_due_challenges()


def seed_scale(*, ideas: int, votes: int, people: int, batch: int = 20_000) -> None:
    """Bulk rows for benchmarks: ``people`` customers, ``ideas`` ideas, ``votes`` supports.

    Rows go in with multi-row INSERTs, bypassing the services (and their events); the stored
    counters are then set from the rows, so they are exact.
    """
    rng = random.Random(2026)
    now = utcnow()
    password_hash = db.session.scalar(select(User.password_hash).limit(1))
    first_user = (db.session.scalar(select(db.func.max(User.id))) or 0) + 1
    for start in range(0, people, batch):
        db.session.execute(
            insert(User),
            [
                {
                    "email": f"customer{first_user + i}@example.com",
                    "display_name": f"Customer {first_user + i}",
                    "password_hash": password_hash,
                    "created_at": now,
                    "email_verified_at": now,
                    "auth_epoch": 0,
                }
                for i in range(start, min(start + batch, people))
            ],
        )
    # The ids the database gave (a PostgreSQL sequence may have gaps).
    user_ids = list(
        db.session.scalars(select(User.id).where(User.id >= first_user).order_by(User.id))
    )
    category_ids = list(db.session.scalars(select(Category.id))) or [None]
    first_idea = (db.session.scalar(select(db.func.max(Idea.id))) or 0) + 1
    # A long tail: a few ideas gather most support, as on any real board.
    weights = [1 / (rank + 10) for rank in range(ideas)]
    total = sum(weights)
    wanted = [min(int(votes * w / total), people - 1) for w in weights]
    wanted[0] += votes - sum(wanted)
    wanted[0] = min(wanted[0], people - 1)
    for start in range(0, ideas, batch):
        rows = []
        for i in range(start, min(start + batch, ideas)):
            created = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365))
            body = f"Idea {first_idea + i}: a product customers asked for, number {i}."
            rows.append(
                {
                    "id": first_idea + i,
                    "title": f"{_TITLE_WORDS[i % len(_TITLE_WORDS)]} {i}",
                    "body": body,
                    "body_html": render_markdown(body),
                    "status": "open",
                    "author_id": user_ids[i % people],
                    "category_id": rng.choice(category_ids),
                    "created_at": created,
                    "updated_at": created,
                    "status_changed_at": created,
                    "vote_count": 0,
                    "comment_count": 0,
                    "recent_vote_count": 0,
                    "hot_score": 0.0,
                }
            )
        db.session.execute(insert(Idea), rows)
    pending: list[dict] = []
    for offset, count in enumerate(wanted):
        idea_id = first_idea + offset
        author = user_ids[offset % people]
        voters = [v for v in rng.sample(user_ids, min(count + 1, people)) if v != author]
        for voter in voters[:count]:
            pending.append(
                {
                    "idea_id": idea_id,
                    "voter_id": voter,
                    "created_at": now - timedelta(minutes=rng.randrange(0, 20_000)),
                }
            )
        if len(pending) >= batch:
            db.session.execute(insert(Vote), pending)
            pending = []
    if pending:
        db.session.execute(insert(Vote), pending)
    db.session.execute(
        update(Idea)
        .where(Idea.id >= first_idea)
        .values(
            vote_count=select(db.func.count(Vote.id))
            .where(Vote.idea_id == Idea.id)
            .scalar_subquery()
        )
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        insert(StatusChange).from_select(
            ["idea_id", "to_status", "created_at"],
            select(Idea.id, Idea.status, Idea.created_at).where(Idea.id >= first_idea),
        )
    )
    if db.session.get_bind().dialect.name == "postgresql":
        # Ideas went in with explicit ids: move the sequence past them, or the next idea
        # shared on the site would collide with one of these.
        db.session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('ideas', 'id'), (SELECT max(id) FROM ideas))"
            )
        )
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    services.rescore_ideas()


_TITLE_WORDS = [
    "Foldable",
    "Solar",
    "Modular",
    "Refillable",
    "Quiet",
    "Smart",
    "Compact",
    "Wooden",
    "Insulated",
    "Magnetic",
    "Washable",
    "Stackable",
    "Portable",
    "Recycled",
    "Wireless",
]
