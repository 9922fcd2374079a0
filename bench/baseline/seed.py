"""Bulk seeding of the baseline's own schema at a tier's size.

    python -m bench.baseline.seed --url sqlite:///… --people 20000 --ideas 10000 --votes 200000

Every person's API token is ``bt_<id>`` (its SHA-256 is stored). Ideas get the same long tail of
support as Cocreate's ``seed-demo`` (a few ideas gather most votes); the stored counts and hot
scores are computed before the rows go in, so they are exact.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, insert

from bench.baseline.app import Idea, Person, Vote, db, hot_score, token_digest

BATCH = 20_000


def token_for(person_id: int) -> str:
    return f"bt_{person_id}"


def seed(url: str, *, people: int, ideas: int, votes: int, seed: int = 2026) -> dict:
    """Create the schema in an empty database and fill it; what was added."""
    rng = random.Random(seed)
    people = max(people, 2)
    now = datetime.now(UTC).replace(tzinfo=None)
    engine = create_engine(url)
    db.metadata.drop_all(engine)
    db.metadata.create_all(engine)
    person_ids = list(range(1, people + 1))
    weights = [1 / (rank + 10) for rank in range(ideas)]
    total = sum(weights) or 1
    wanted = [min(int(votes * w / total), people - 1) for w in weights]
    if wanted:
        wanted[0] = min(wanted[0] + votes - sum(wanted), people - 1)
    idea_rows, vote_rows = [], []
    for i in range(ideas):
        idea_id = i + 1
        author = person_ids[i % people]
        created = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365))
        voters = [v for v in rng.sample(person_ids, min(wanted[i] + 1, people)) if v != author]
        voters = voters[: wanted[i]]
        idea_rows.append(
            {
                "id": idea_id,
                "title": f"Idea {idea_id}",
                "body": f"Idea {idea_id}: a product customers asked for, number {i}.",
                "author_id": author,
                "created_at": created,
                "vote_count": len(voters),
                "hot_score": hot_score(len(voters), created),
            }
        )
        vote_rows.extend(
            {
                "idea_id": idea_id,
                "person_id": voter,
                "created_at": now - timedelta(minutes=rng.randrange(0, 20_000)),
            }
            for voter in voters
        )
    with engine.begin() as conn:
        for start in range(0, people, BATCH):
            conn.execute(
                insert(Person),
                [
                    {"id": pid, "name": f"Person {pid}", "token_hash": token_digest(token_for(pid))}
                    for pid in person_ids[start : start + BATCH]
                ],
            )
        for start in range(0, len(idea_rows), BATCH):
            conn.execute(insert(Idea), idea_rows[start : start + BATCH])
        for start in range(0, len(vote_rows), BATCH):
            conn.execute(insert(Vote), vote_rows[start : start + BATCH])
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("people", "ideas", "votes"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
    engine.dispose()
    return {"people": people, "ideas": ideas, "votes": len(vote_rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--people", type=int, required=True)
    parser.add_argument("--ideas", type=int, required=True)
    parser.add_argument("--votes", type=int, required=True)
    args = parser.parse_args()
    started = time.monotonic()
    added = seed(args.url, people=args.people, ideas=args.ideas, votes=args.votes)
    print(f"baseline: seeded {added} in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
