"""What the community module announces. Subscribers run inside the publisher's transaction."""

from blinker import Namespace

signals = Namespace()

comment_posted = signals.signal(
    "comment-posted",
    doc="Sender: the Comment. kwargs: author, parent (Comment or None), mentioned (list of User), "
    "comment_count (the idea's count with this comment; None on a challenge).",
)
comment_edited = signals.signal("comment-edited", doc="Sender: the Comment. kwargs: editor.")
comment_deleted = signals.signal("comment-deleted", doc="Sender: the Comment. kwargs: actor.")
official_answer_marked = signals.signal(
    "official-answer-marked", doc="Sender: the Comment. kwargs: actor."
)
notification_created = signals.signal(
    "notification-created", doc="Sender: the Notification (flushed, not yet committed)."
)
