"""What the ideas module announces. Subscribers run inside the publisher's transaction."""

from blinker import Namespace

signals = Namespace()

idea_submitted = signals.signal(
    "idea-submitted", doc="Sender: the Idea (pending or open). kwargs: author."
)
idea_published = signals.signal(
    "idea-published", doc="Sender: the Idea, now visible to everyone. kwargs: actor (or None)."
)
idea_edited = signals.signal("idea-edited", doc="Sender: the Idea. kwargs: editor, revision.")
vote_cast = signals.signal(
    "vote-cast", doc="Sender: the Idea. kwargs: voter, vote_count (after the vote)."
)
vote_withdrawn = signals.signal(
    "vote-withdrawn", doc="Sender: the Idea. kwargs: voter, vote_count (after the withdrawal)."
)
idea_status_changed = signals.signal(
    "idea-status-changed",
    doc="Sender: the Idea. kwargs: change (StatusChange), actor (None for automatic moves), "
    "official_response (str or None). change.to_status 'removed' is a moderator's removal as "
    "spam (change.note the reason); 'open' from 'removed' restores it.",
)
idea_merged = signals.signal(
    "idea-merged",
    doc="Sender: the source Idea. kwargs: target, actor, merge (IdeaMerge), "
    "supporter_ids (people whose support moved).",
)
milestone_reached = signals.signal(
    "milestone-reached", doc="Sender: the Idea. kwargs: milestone (Milestone)."
)
challenge_closed = signals.signal("challenge-closed", doc="Sender: the Challenge.")
category_deleted = signals.signal(
    "category-deleted", doc="Sender: the Category, deleted (flushed, not yet committed)."
)
