"""What a person may do beyond the basics, decided by whichever modules know.

Modules ask one question, ``allows(user, ability)``, and never learn who answers it: the
rewards module registers a source that grants abilities by level, so ideas can let trusted
people post without pre-moderation without importing rewards.
"""

from __future__ import annotations

from collections.abc import Callable

# The abilities other modules ask about, and what each means.
ABILITIES = {
    "skip_premoderation": "Ideas are published at once, even when pre-moderation is on.",
}

Source = Callable[[object, str], bool]
_sources: list[Source] = []


def register_source(source: Source) -> None:
    """Add a source: ``source(user, ability)`` is True when it grants the ability."""
    if source not in _sources:
        _sources.append(source)


def allows(user, ability: str) -> bool:
    """True when any source grants ``ability`` to ``user`` (never to anonymous visitors)."""
    if ability not in ABILITIES:
        raise KeyError(ability)
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return any(source(user, ability) for source in _sources)
